/** `bash scripts/demo.sh [--keep]`: the demo story in this terminal. Exits 0 when it went as told. */
import { runDemo } from "./demo-story.js";

const keep = process.argv.includes("--keep");
const redraw = process.stdout.isTTY === true;
try {
  const result = await runDemo({ keep, redraw, print: (line) => process.stdout.write(line.startsWith("\r") || line === "\n" ? line : `${line}\n`) });
  process.exit(result.ok ? 0 : 1);
} catch (error) {
  process.stderr.write(`\ndemo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
