/**
 * The Rollout schema in the two forms tools read: a JSON Schema for editors, and the
 * CustomResourceDefinition whose structural OpenAPI schema the API server validates and defaults
 * with. Both come from the zod schemas; scripts/generate.ts writes them to docs/ and charts/.
 */
import { z } from "zod";
import { API_VERSION, KIND, RolloutDocumentSchema } from "./schema.js";
import { RolloutStatusSchema } from "./status.js";

type JsonSchema = z.core.JSONSchema.JSONSchema;

const [GROUP = "", VERSION = ""] = API_VERSION.split("/");
export const CRD_NAME = `rollouts.${GROUP}`;

const ROLLOUT_DESCRIPTION = "A Tideway Rollout: the version of a service to release, and how its canary is stepped, checked and promoted.";
const SPEC_DESCRIPTION = "What to release and how. Committed to git; a new spec.version starts a canary release.";
const STATUS_DESCRIPTION = "Where the release stands. Written only by the controller, never from git.";

/** The JSON Schema of a Rollout document as written in git, for yaml-language-server and other editors. */
export function rolloutJsonSchema(): JsonSchema {
  // draft-07: yaml-language-server flags 2020-12 schemas as "not yet fully supported", and the
  // keywords zod emits for this schema mean the same in both drafts.
  const { $schema, ...schema } = z.toJSONSchema(RolloutDocumentSchema, { io: "input", target: "draft-07" });
  const spec = schema.properties?.spec;
  return {
    $schema,
    title: `${KIND} (${API_VERSION})`,
    description: ROLLOUT_DESCRIPTION,
    ...schema,
    properties: { ...schema.properties, ...(isSchema(spec) ? { spec: { description: SPEC_DESCRIPTION, ...spec } } : {}) },
  };
}

/** Kubernetes' JSONSchemaProps, restricted to what a structural schema may say. */
export interface StructuralSchema {
  description?: string;
  type?: "object" | "array" | "string" | "number" | "integer" | "boolean";
  format?: string;
  enum?: (string | number | boolean)[];
  default?: unknown;
  nullable?: boolean;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: boolean;
  exclusiveMaximum?: boolean;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minItems?: number;
  maxItems?: number;
  items?: StructuralSchema;
  properties?: Record<string, StructuralSchema>;
  required?: string[];
  additionalProperties?: StructuralSchema;
  "x-kubernetes-preserve-unknown-fields"?: true;
}

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "date";
  jsonPath: string;
  description: string;
  priority?: number;
}

export interface CustomResourceDefinition {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] };
    scope: "Namespaced";
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      subresources: { status: Record<string, never> };
      additionalPrinterColumns: PrinterColumn[];
      schema: { openAPIV3Schema: StructuralSchema };
    }[];
  };
}

const PRINTER_COLUMNS: PrinterColumn[] = [
  { name: "Phase", type: "string", jsonPath: ".status.phase", description: "Healthy, Progressing, Paused, RolledBack, Aborted or Refused (a route it names is managed by another Rollout)." },
  { name: "Stable", type: "string", jsonPath: ".status.stableVersion", description: "The version serving the traffic the canary does not get." },
  { name: "Canary", type: "string", jsonPath: ".status.canaryVersion", description: "The version in flight, or the one that last failed." },
  { name: "Weight", type: "integer", jsonPath: ".status.canaryWeight", description: "Percent of traffic sent to the canary." },
  { name: "Step", type: "string", jsonPath: ".status.step", description: "Current step of the release, e.g. 2/5." },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp", description: "When the Rollout was created." },
  { name: "Message", type: "string", jsonPath: ".status.message", description: "What happens next, or why the release stopped.", priority: 1 },
];

/** The `rollouts.tideway.io` CustomResourceDefinition, with the Rollout's structural schema. */
export function rolloutCrd(): CustomResourceDefinition {
  const document = toStructural(openApiSchema(RolloutDocumentSchema), "");
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: CRD_NAME },
    spec: {
      group: GROUP,
      // "ro" is Argo Rollouts' short name; ours must not shadow it in clusters that run both.
      names: { kind: KIND, listKind: `${KIND}List`, plural: "rollouts", singular: "rollout", shortNames: ["twro"] },
      scope: "Namespaced",
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: PRINTER_COLUMNS,
          schema: {
            openAPIV3Schema: {
              description: ROLLOUT_DESCRIPTION,
              type: "object",
              properties: {
                ...document.properties,
                // The API server owns metadata's schema and forbids anything but its type here.
                metadata: { type: "object" },
                spec: { description: SPEC_DESCRIPTION, ...document.properties?.spec },
                status: { description: STATUS_DESCRIPTION, ...toStructural(openApiSchema(RolloutStatusSchema), "status") },
              },
              ...(document.required ? { required: document.required } : {}),
            },
          },
        },
      ],
    },
  };
}

// OpenAPI 3.0 is what Kubernetes speaks: zod already writes `nullable`, `enum` for `const`,
// boolean `exclusiveMinimum` and no `$schema`. toStructural does the rest.
function openApiSchema(schema: z.ZodType): JsonSchema {
  return z.toJSONSchema(schema, { io: "input", target: "openapi-3.0" });
}

const STRUCTURAL_TYPES = ["object", "array", "string", "number", "integer", "boolean"] as const;
const COPIED = ["format", "default", "nullable", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "minItems", "maxItems"] as const;
const HANDLED = new Set<string>([...COPIED, "description", "type", "enum", "const", "items", "properties", "required", "additionalProperties", "propertyNames", "anyOf"]);

/**
 * Rewrites a JSON Schema into the structural form the API server accepts. Throws on any keyword it
 * has no rule for, so a new construct in schema.ts fails `npm run generate`, not `kubectl apply`.
 */
export function toStructural(schema: JsonSchema, path: string): StructuralSchema {
  const unknown = Object.keys(schema).filter((key) => !HANDLED.has(key));
  if (unknown.length > 0) throw new Error(`${path || "(root)"}: no structural form for JSON Schema keyword ${unknown.join(", ")}; teach toStructural in src/rollout/crd.ts`);
  if (schema.anyOf !== undefined) return mixedTypes(schema, path);

  const out: StructuralSchema = {};
  if (schema.description !== undefined) out.description = schema.description;
  if (schema.type !== undefined) out.type = structuralType(schema.type, path);
  for (const key of COPIED) {
    if (schema[key] !== undefined) Object.assign(out, { [key]: schema[key] });
  }
  // Kubernetes' OpenAPI has no `const`: a one-value enum says the same.
  const values = schema.const !== undefined ? [schema.const] : schema.enum;
  if (values !== undefined) out.enum = values.map((value) => enumValue(value, path));
  if (schema.items !== undefined) out.items = toStructural(subschema(schema.items, `${path}[]`), `${path}[]`);
  if (schema.properties !== undefined) {
    out.properties = Object.fromEntries(
      Object.entries(schema.properties).map(([name, property]) => {
        const at = path ? `${path}.${name}` : name;
        return [name, toStructural(subschema(property, at), at)];
      }),
    );
  }
  if (schema.required !== undefined) out.required = schema.required;
  // `additionalProperties: false` may not stand next to `properties`; the API server prunes
  // unknown fields instead. A record (`additionalProperties: {schema}`) stays as it is, and a
  // loose object (`true`, or `{}` as zod writes z.looseObject) keeps whatever it is given.
  const extra = schema.additionalProperties;
  if (extra === true || (isSchema(extra) && Object.keys(extra).length === 0)) {
    out["x-kubernetes-preserve-unknown-fields"] = true;
  } else if (extra !== undefined && extra !== false) {
    if (schema.properties !== undefined) throw new Error(`${path}: an object with both properties and additionalProperties is not structural`);
    out.additionalProperties = toStructural(subschema(extra, `${path}.*`), `${path}.*`);
  }
  // `propertyNames` has no counterpart in apiextensions/v1; record keys go unchecked by the server.
  return out;
}

/** A field that may be a string or an object (`pause`) has no single type: keep it as written. */
function mixedTypes(schema: JsonSchema, path: string): StructuralSchema {
  const types = new Set((schema.anyOf ?? []).map((branch) => branch.type));
  if (types.size < 2 || [...types].some((type) => type === undefined)) {
    throw new Error(`${path}: anyOf is structural only as a mix of types (preserved as written); found ${JSON.stringify(schema.anyOf)}`);
  }
  return {
    ...(schema.description !== undefined ? { description: schema.description } : {}),
    ...(schema.default !== undefined ? { default: schema.default } : {}),
    "x-kubernetes-preserve-unknown-fields": true,
  };
}

function structuralType(type: JsonSchema["type"], path: string): NonNullable<StructuralSchema["type"]> {
  const known = STRUCTURAL_TYPES.find((candidate) => candidate === type);
  if (known === undefined) throw new Error(`${path}: type ${JSON.stringify(type)} is not structural (one type per field; null is "nullable: true")`);
  return known;
}

function enumValue(value: string | number | boolean | null, path: string): string | number | boolean {
  if (value === null) throw new Error(`${path}: null in an enum is not structural; use nullable`);
  return value;
}

function subschema(schema: unknown, path: string): JsonSchema {
  if (!isSchema(schema)) throw new Error(`${path}: expected a schema object, found ${JSON.stringify(schema)}`);
  return schema;
}

function isSchema(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
