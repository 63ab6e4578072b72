// The signing-server PKI: local signing authority, server and client certificates, nginx.conf.
export * from "./authority.ts";
export * from "./certificate.ts";
export * from "./keys.ts";
export * from "./nginx.ts";
export * from "./pem.ts";
