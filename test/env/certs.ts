import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The PKI an API server needs for envtest-style client-certificate auth. */
export interface ApiServerPki {
  caCert: string;
  servingCert: string;
  servingKey: string;
  adminCert: string;
  adminKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] });
}

/** Writes a CA, a serving certificate for 127.0.0.1 and an admin client certificate into `dir`. */
export function createApiServerPki(dir: string): ApiServerPki {
  const path = (name: string) => join(dir, name);
  openssl(dir, ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tideway-test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
  writeFileSync(path("serving.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  writeFileSync(path("client.ext"), "extendedKeyUsage=clientAuth\n");
  issue(dir, "serving", "/CN=kube-apiserver", "serving.ext");
  // O=system:masters is bound to cluster-admin by the API server's bootstrap RBAC policy.
  issue(dir, "admin", "/CN=tideway-admin/O=system:masters", "client.ext");
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  writeFileSync(path("sa.key"), privateKey.export({ type: "pkcs1", format: "pem" }));
  writeFileSync(path("sa.pub"), publicKey.export({ type: "spki", format: "pem" }));
  return {
    caCert: path("ca.crt"),
    servingCert: path("serving.crt"),
    servingKey: path("serving.key"),
    adminCert: path("admin.crt"),
    adminKey: path("admin.key"),
    serviceAccountKey: path("sa.key"),
    serviceAccountPub: path("sa.pub"),
  };
}

function issue(dir: string, name: string, subject: string, extFile: string): void {
  openssl(dir, ["req", "-newkey", "rsa:2048", "-nodes", "-subj", subject, "-keyout", `${name}.key`, "-out", `${name}.csr`]);
  openssl(dir, ["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", extFile, "-out", `${name}.crt`]);
}

export function base64File(path: string): string {
  return readFileSync(path).toString("base64");
}
