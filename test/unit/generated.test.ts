import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { generatedFiles, REPO_ROOT } from "../../scripts/generate.js";
import { rolloutCrd, rolloutJsonSchema, toStructural, type StructuralSchema } from "../../src/rollout/crd.js";

describe("the files generated from the Rollout schema", () => {
  it.each(generatedFiles().map((file) => [file.path, file.content] as const))("%s is up to date", (path, expected) => {
    const target = join(REPO_ROOT, path);
    const stale = `${path} is stale or missing: run \`npm run generate\` and commit the result`;
    expect(existsSync(target), stale).toBe(true);
    expect(readFileSync(target, "utf8"), stale).toBe(expected);
  });
});

/** Every schema node with its path, depth first. */
function* nodes(schema: StructuralSchema, path = ""): Generator<[string, StructuralSchema]> {
  yield [path, schema];
  for (const [name, property] of Object.entries(schema.properties ?? {})) yield* nodes(property, path ? `${path}.${name}` : name);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* nodes(schema.additionalProperties, `${path}.*`);
}

describe("the Rollout CRD's schema", () => {
  const root = rolloutCrd().spec.versions[0]?.schema.openAPIV3Schema ?? {};
  const all = [...nodes(root)];

  it("gives every field a type, unless it keeps whatever it is given", () => {
    const untyped = all.filter(([, node]) => node.type === undefined && node["x-kubernetes-preserve-unknown-fields"] !== true);
    expect(untyped.map(([path]) => path)).toEqual([]);
  });

  it("never puts properties and additionalProperties side by side", () => {
    expect(all.filter(([, node]) => node.properties && node.additionalProperties).map(([path]) => path)).toEqual([]);
  });

  it("says nothing about metadata but its type", () => {
    expect(root.properties?.metadata).toEqual({ type: "object" });
  });

  it("keeps the pause step, a duration or an object, as written", () => {
    expect(root.properties?.spec?.properties?.steps?.items?.properties?.pause).toEqual({
      description: expect.stringContaining("manual promote"),
      "x-kubernetes-preserve-unknown-fields": true,
    });
  });

  it("keeps every description and default the zod schema gives", () => {
    const analysis = root.properties?.spec?.properties?.analysis?.properties ?? {};
    expect(Object.fromEntries(Object.entries(analysis).map(([name, field]) => [name, field.default]))).toEqual({
      interval: "15s",
      failureLimit: 0,
      inconclusiveLimit: 3,
      errorLimit: 3,
      onInconclusive: "pause",
      onError: "pause",
      minRequests: 20,
      metrics: undefined,
    });
    expect(all.filter(([, node]) => node.description !== undefined).length).toBeGreaterThan(20);
  });

  it("turns a const into a one-value enum", () => {
    expect(root.properties?.apiVersion).toEqual({ type: "string", enum: ["tideway.io/v1alpha1"] });
  });
});

describe("toStructural", () => {
  it("refuses a JSON Schema keyword it has no rule for, naming the field", () => {
    const schema = z.toJSONSchema(
      z.object({
        tags: z
          .array(z.string())
          .refine(() => true)
          .meta({ uniqueItems: true }),
      }),
      { target: "openapi-3.0" },
    );
    expect(() => toStructural(schema, "spec")).toThrow(/spec\.tags: no structural form for JSON Schema keyword uniqueItems/);
  });

  it("refuses a union of two objects, which has no structural form", () => {
    const schema = z.toJSONSchema(z.object({ a: z.union([z.object({ x: z.string() }), z.object({ y: z.string() })]) }), { target: "openapi-3.0" });
    expect(() => toStructural(schema, "spec")).toThrow(/spec\.a: anyOf is structural only as a mix of types/);
  });

  it("keeps a nullable number nullable", () => {
    const schema = z.toJSONSchema(z.object({ value: z.number().nullable() }), { target: "openapi-3.0" });
    expect(toStructural(schema, "").properties?.value).toEqual({ type: "number", nullable: true });
  });
});

describe("the editors' JSON Schema", () => {
  it("is a draft-07 schema, the newest yaml-language-server fully supports", () => {
    expect(rolloutJsonSchema().$schema).toBe("http://json-schema.org/draft-07/schema#");
  });
});
