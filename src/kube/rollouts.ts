/** Rollout objects in the API server: read, server-side apply, status, annotations, delete. */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { z } from "zod";
import { API_VERSION, KIND } from "../rollout/schema.js";
import { kubeError } from "./errors.js";

export const GROUP = "tideway.io";
export const VERSION = "v1alpha1";
export const PLURAL = "rollouts";

/** The object's envelope, validated; spec and status are parsed by their own schemas. */
const RolloutObjectSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.object({
    name: z.string(),
    namespace: z.string(),
    uid: z.string().optional(),
    resourceVersion: z.string(),
    generation: z.number().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().optional(),
    finalizers: z.array(z.string()).optional(),
  }),
  spec: z.unknown(),
  status: z.unknown().optional(),
});
export type RolloutObject = z.output<typeof RolloutObjectSchema>;

const ListSchema = z.object({ metadata: z.object({ resourceVersion: z.string().optional() }).optional(), items: z.array(RolloutObjectSchema) });

/** An object's metadata alone: what a metadata-only list (PartialObjectMetadataList) and the mirror's applies are read for. */
const MetadataSchema = z.object({
  name: z.string(),
  namespace: z.string(),
  resourceVersion: z.string(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export interface RolloutMetadata {
  name: string;
  namespace: string;
  resourceVersion: string;
  annotations: Record<string, string>;
}
// An empty PartialObjectMetadataList comes with `items: null`.
const MetadataListSchema = z.object({ items: z.array(z.object({ metadata: MetadataSchema })).nullable() });
/** An apply's answer is the whole object; only its metadata is validated (the spec is what was sent, status is not the mirror's). */
const AppliedAnswerSchema = z.object({ metadata: MetadataSchema });

const toMetadata = ({ annotations, ...rest }: z.output<typeof MetadataSchema>): RolloutMetadata => ({ ...rest, annotations: annotations ?? {} });

/** Asks the API server for metadata only: no spec or status is sent, read or parsed. */
const METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1";

export function parseRolloutObject(raw: unknown): RolloutObject {
  return RolloutObjectSchema.parse(raw);
}

export interface AppliedObject {
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string> };
  spec: unknown;
}

/**
 * Where Rollout objects live, as the reconciler sees them: read one, write its status with the
 * resourceVersion it was read at as precondition, merge-patch its metadata (the command claim,
 * the finalizer). A write against a moved object fails with 409.
 */
export interface RolloutStore {
  get(namespace: string, name: string): Promise<RolloutObject>;
  replaceStatus(object: RolloutObject, status: unknown): Promise<RolloutObject>;
  patchMetadata(namespace: string, name: string, metadata: Record<string, unknown>): Promise<RolloutObject>;
}

export class RolloutClient implements RolloutStore {
  private readonly api: CustomObjectsApi;

  constructor(kc: KubeConfig) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async get(namespace: string, name: string): Promise<RolloutObject> {
    try {
      return parseRolloutObject(await this.api.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name }));
    } catch (error) {
      throw kubeError(error, `reading Rollout ${namespace}/${name}`);
    }
  }

  async list(labelSelector?: string): Promise<RolloutObject[]> {
    return (await this.listWithVersion(labelSelector)).items;
  }

  /** The list and its resourceVersion (where a watch starts from). */
  async listWithVersion(labelSelector?: string): Promise<{ items: RolloutObject[]; resourceVersion: string }> {
    try {
      const raw = await this.api.listCustomObjectForAllNamespaces({ group: GROUP, version: VERSION, plural: PLURAL, ...(labelSelector ? { labelSelector } : {}) });
      const list = ListSchema.parse(raw);
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? "" };
    } catch (error) {
      throw kubeError(error, "listing Rollouts");
    }
  }

  /** The metadata of every Rollout with these labels (name, namespace, resourceVersion, annotations). */
  async listMetadata(labelSelector?: string): Promise<RolloutMetadata[]> {
    try {
      const raw = await this.api.listCustomObjectForAllNamespaces(
        { group: GROUP, version: VERSION, plural: PLURAL, ...(labelSelector ? { labelSelector } : {}) },
        setHeaderOptions("Accept", METADATA_ONLY),
      );
      return (MetadataListSchema.parse(raw).items ?? []).map((item) => toMetadata(item.metadata));
    } catch (error) {
      throw kubeError(error, "listing Rollouts");
    }
  }

  /** Server-side apply: this field manager owns exactly the fields in `object`. */
  async apply(object: AppliedObject, fieldManager: string): Promise<RolloutObject> {
    return parseRolloutObject(await this.applyRaw(object, fieldManager));
  }

  /** The same apply, its answer validated for the metadata only (the git mirror's: 10,000 of them in a first sync). */
  async applyReadingMetadata(object: AppliedObject, fieldManager: string): Promise<RolloutMetadata> {
    const raw = await this.applyRaw(object, fieldManager);
    try {
      return toMetadata(AppliedAnswerSchema.parse(raw).metadata);
    } catch (error) {
      throw kubeError(error, `applying Rollout ${object.metadata.namespace}/${object.metadata.name}`);
    }
  }

  private async applyRaw(object: AppliedObject, fieldManager: string): Promise<unknown> {
    const { namespace, name } = object.metadata;
    const body = { apiVersion: API_VERSION, kind: KIND, ...object };
    try {
      return await this.api.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body, fieldManager, force: true },
        setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply),
      );
    } catch (error) {
      throw kubeError(error, `applying Rollout ${namespace}/${name}`);
    }
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.api.deleteNamespacedCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, namespace, name });
    } catch (error) {
      throw kubeError(error, `deleting Rollout ${namespace}/${name}`);
    }
  }

  /**
   * Replaces the status subresource; fails with 409 when the object changed since `object` was
   * read (its resourceVersion is the precondition).
   */
  async replaceStatus(object: RolloutObject, status: unknown): Promise<RolloutObject> {
    const { namespace, name } = object.metadata;
    try {
      const raw = await this.api.replaceNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        plural: PLURAL,
        namespace,
        name,
        body: { apiVersion: object.apiVersion, kind: object.kind, metadata: object.metadata, spec: object.spec, status },
      });
      return parseRolloutObject(raw);
    } catch (error) {
      throw kubeError(error, `writing status of Rollout ${namespace}/${name}`);
    }
  }

  /** Merge-patches metadata (annotations, finalizers), with a resourceVersion precondition when given. */
  async patchMetadata(namespace: string, name: string, metadata: Record<string, unknown>): Promise<RolloutObject> {
    try {
      const raw = await this.api.patchNamespacedCustomObject(
        { group: GROUP, version: VERSION, plural: PLURAL, namespace, name, body: { metadata } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
      return parseRolloutObject(raw);
    } catch (error) {
      throw kubeError(error, `patching Rollout ${namespace}/${name}`);
    }
  }
}
