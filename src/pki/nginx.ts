// The nginx configuration of the networked signing setup: TLS on the signing server's port
// (8081), client certificates required and verified against the local signing authority with
// depth 1, 403 for any request without a verified client certificate, and everything else
// proxied to yubihsm-connector on 127.0.0.1:12345.

export interface NginxOptions {
  /** Where ca.pem, server.pem and server.key will be on the signing server. */
  certDir: string;
  serverNames: string[];
  listenPort: number;
  /** host:port of yubihsm-connector. */
  upstream: string;
}

export const DEFAULT_LISTEN_PORT = 8081;
export const DEFAULT_UPSTREAM = "127.0.0.1:12345";

/** Texts returned with the 403s; the line PC shows them to the operator. */
export const CLIENT_CERT_REQUIRED = "no client certificate was presented; this signing server requires one issued by its CA (swtool pki client)";
export const CLIENT_CERT_REJECTED = "the client certificate was not accepted: not issued by this signing server's CA, expired, or not for client use (swtool pki client)";

export function nginxConf(o: NginxOptions): string {
  // Forward slashes on Windows too: nginx reads a backslash as an escape (C:\temp would hold a tab),
  // and nginx for Windows takes C:/path.
  const dir = o.certDir.replace(/\\/g, "/").replace(/\/+$/, "");
  return `# nginx reverse proxy with mutual TLS in front of yubihsm-connector (Sidewalk networked signing setup).
# Written by \`swtool pki init\`. Run it as is with: nginx -c ${dir}/nginx.conf
# Line PCs connect to https://${o.serverNames[0] ?? "SERVER"}:${o.listenPort} with their client.pem/client.key
# (\`swtool pki client\`) and verify this server with ca.pem.
worker_processes 1;
events {
    worker_connections 64;
}
http {
    server {
        listen ${o.listenPort} ssl;
        server_name ${o.serverNames.join(" ")};

        ssl_certificate ${dir}/server.pem;
        ssl_certificate_key ${dir}/server.key;
        ssl_protocols TLSv1.2 TLSv1.3;

        # Only line PCs holding a certificate issued directly by the local signing authority.
        ssl_client_certificate ${dir}/ca.pem;
        ssl_verify_client on;
        ssl_verify_depth 1;

        # 495: the client certificate did not verify; 496: none was sent. Both become 403.
        error_page 495 =403 /client-certificate-rejected;
        error_page 496 =403 /client-certificate-required;
        location = /client-certificate-rejected {
            internal;
            default_type text/plain;
            return 403 "${CLIENT_CERT_REJECTED}\\n";
        }
        location = /client-certificate-required {
            internal;
            default_type text/plain;
            return 403 "${CLIENT_CERT_REQUIRED}\\n";
        }

        location / {
            if ($ssl_client_verify != SUCCESS) {
                return 403;
            }
            proxy_pass http://${o.upstream};
        }
    }
}
`;
}
