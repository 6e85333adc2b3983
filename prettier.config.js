/**
 * Formatting, checked by `npm run format:check` (scripts/test.sh). Set to the code's own style:
 * double quotes, semicolons, trailing commas, and long lines: 99% of lines are under 180
 * characters and fewer than 0.5% pass 200, so 200 changes the least while keeping lines readable.
 * @type {import("prettier").Config}
 */
export default {
  printWidth: 200,
  semi: true,
  singleQuote: false,
  trailingComma: "all",
  // Keeps an object on several lines when its author wrote it so (prettier's default).
  objectWrap: "preserve",
};
