/**
 * Which layer of an OCI artifact is the encoder (or the point set). Pure: a manifest in, a layer
 * or a `source_not_found` / `source_ambiguous` error listing what is there out.
 *
 * - CNCF ModelPack: weight layers `application/vnd.cncf.model.weight.*`, datasets
 *   `application/vnd.cncf.model.dataset.*`;
 * - KitOps ModelKit: `application/vnd.kitops.modelkit.model.*` / `.dataset.*`;
 * - plain ORAS artifacts: any media type, named by `org.opencontainers.image.title`.
 * An encoder layer is one whose title ends in .onnx or whose media type says onnx; failing that,
 * the only weight/model layer. A point-set layer is a dataset layer, or one titled .tar, .tar.gz,
 * .tgz, .zip or .npy. Layers packed as tar (`….tar`, `….tar+gzip`) are reported as such: the
 * caller extracts the one file inside.
 */
import { SslmemError } from "../core/errors.ts";

export const TITLE_ANNOTATION = "org.opencontainers.image.title";

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ChosenLayer {
  layer: OciDescriptor;
  title: string | undefined;
  /** How the file is packed in the layer. */
  packing: "raw" | "tar" | "tar+gzip";
}

export type InputKind = "model" | "data";

const WEIGHT = /^application\/vnd\.(cncf\.model\.weight|kitops\.modelkit\.model)\./;
const DATASET = /^application\/vnd\.(cncf\.model\.dataset|kitops\.modelkit\.dataset)\./;
const POINT_SET_FILE = /\.(tar|tar\.gz|tgz|zip|npy)$/i;

function titleOf(layer: OciDescriptor): string | undefined {
  const t = layer.annotations?.[TITLE_ANNOTATION];
  return typeof t === "string" && t !== "" ? t : undefined;
}

export function packingOf(mediaType: string): ChosenLayer["packing"] {
  if (/[.+]tar\+gzip$|\.tar\.gzip$/.test(mediaType)) return "tar+gzip";
  if (/[.+]tar$/.test(mediaType)) return "tar";
  if (/[.+](tar\+zstd|zstd)$/.test(mediaType)) {
    throw new SslmemError("source_invalid", `layers compressed with zstd (${mediaType}) are not supported; push the file raw or as tar/tar+gzip`);
  }
  return "raw";
}

function describe(layers: readonly OciDescriptor[]): string {
  return layers.map((l) => `${titleOf(l) ?? "(untitled)"} [${l.mediaType}]`).join(", ") || "no layers";
}

export function chooseLayer(layers: readonly OciDescriptor[], kind: InputKind, what: string): ChosenLayer {
  const pick = (l: OciDescriptor): ChosenLayer => ({ layer: l, title: titleOf(l), packing: kind === "data" ? "raw" : packingOf(l.mediaType) });
  const tiers: OciDescriptor[][] =
    kind === "model"
      ? [
          layers.filter((l) => titleOf(l)?.toLowerCase().endsWith(".onnx") || /onnx/i.test(l.mediaType)),
          layers.filter((l) => WEIGHT.test(l.mediaType)),
        ]
      : [layers.filter((l) => DATASET.test(l.mediaType)), layers.filter((l) => POINT_SET_FILE.test(titleOf(l) ?? ""))];
  for (const tier of tiers) {
    if (tier.length === 1) return pick(tier[0]);
    if (tier.length > 1) {
      throw new SslmemError("source_ambiguous", `${what} has ${tier.length} layers that could be the ${kind === "model" ? "encoder" : "point set"}: ${describe(tier)}; push one per artifact`, {
        layers: tier.map((l) => titleOf(l) ?? l.digest),
      });
    }
  }
  const wanted = kind === "model" ? "an ONNX layer (title *.onnx, or a single weight layer)" : "a dataset layer (or one titled .tar/.zip/.npy)";
  throw new SslmemError("source_not_found", `${what} has no ${wanted}; its layers: ${describe(layers)}`, {
    layers: layers.map((l) => titleOf(l) ?? l.digest),
  });
}
