/** A pass-through in front of the test Prometheus that can be taken down (connections refused) and brought back on its port. */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface PrometheusOutage {
  url: string;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function prometheusOutage(target: string): Promise<PrometheusOutage> {
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const contentType = request.headers["content-type"];
      fetch(new URL(request.url ?? "/", target), { method: request.method ?? "GET", ...(contentType ? { headers: { "content-type": contentType } } : {}), ...(body ? { body } : {}) }).then(
        async (answer) => response.writeHead(answer.status, { "content-type": answer.headers.get("content-type") ?? "application/json" }).end(Buffer.from(await answer.arrayBuffer())),
        () => response.writeHead(502).end(),
      );
    });
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  const down = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.closeAllConnections();
      server.close(() => resolve());
    });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, down, up: () => listen(port), close: down };
}
