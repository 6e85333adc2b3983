/**
 * The page's files, served from the package (src/dashboard/assets, copied to dist/ by `npm run
 * build`): nothing is fetched from anywhere else, so the page works offline.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ASSET_DIR = fileURLToPath(new URL("./assets/", import.meta.url));

/** Path on the page -> file in ASSET_DIR and its content type. */
export const ASSET_FILES: Record<string, { file: string; type: string }> = {
  "/assets/dashboard.js": { file: "dashboard.js", type: "text/javascript; charset=utf-8" },
  "/assets/card.js": { file: "card.js", type: "text/javascript; charset=utf-8" },
  "/assets/chart.js": { file: "chart.js", type: "text/javascript; charset=utf-8" },
  "/assets/dom.js": { file: "dom.js", type: "text/javascript; charset=utf-8" },
  "/assets/dashboard.css": { file: "dashboard.css", type: "text/css; charset=utf-8" },
  "/assets/favicon.svg": { file: "favicon.svg", type: "image/svg+xml" },
};
export const PAGE_FILE = "index.html";

/** Where the page puts its session's CSRF token. */
const TOKEN_SLOT = "{{csrf-token}}";

export interface PageAssets {
  page(csrfToken: string): string;
  asset(path: string): { body: Buffer; type: string } | undefined;
}

/** Reads every file once, at start: a package built without them fails here, not on the first visit. */
export function loadAssets(dir = ASSET_DIR): PageAssets {
  let page: string;
  const files = new Map<string, { body: Buffer; type: string }>();
  try {
    page = readFileSync(`${dir}/${PAGE_FILE}`, "utf8");
    for (const [path, { file, type }] of Object.entries(ASSET_FILES)) files.set(path, { body: readFileSync(`${dir}/${file}`), type });
  } catch (error) {
    throw new Error(`the dashboard's page is missing from ${dir} (${error instanceof Error ? error.message : String(error)}): build the package with npm run build`, { cause: error });
  }
  if (!page.includes(TOKEN_SLOT)) throw new Error(`${dir}/${PAGE_FILE} has no ${TOKEN_SLOT}`);
  return {
    // The token is base64url: nothing in it needs escaping in an attribute.
    page: (csrfToken) => page.replace(TOKEN_SLOT, csrfToken),
    asset: (path) => files.get(path),
  };
}
