// The networked signing setup's nginx side: the authority's directory layout (ca.pem, ca.key,
// server.*, clients/<name>/) and nginx.conf. Certificates, keys and files are src/x509's.
export * from "./authority.ts";
export * from "./nginx.ts";
