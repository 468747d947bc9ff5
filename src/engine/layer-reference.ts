/**
 * LayerMem on the host: each encoder run as its own ONNX Runtime session with the layer values as
 * extra outputs, the activations pooled and paired in TypeScript (representation.ts poolRows,
 * core/sslmem.ts pairDistances). Two uses: the chained pipeline (encoders that do not compose),
 * and the reference the composed graph's layer distances are tested against (≤ 1e-5).
 */
import * as ort from "onnxruntime-node";
import type { DistanceKind } from "../core/distances.ts";
import { SslmemError } from "../core/errors.ts";
import { pairDistances, viewsPerPoint, type Pairing } from "../core/sslmem.ts";
import type { Encoder } from "./encoder.ts";
import type { EncoderSide, LayerTaps } from "./layer-graph.ts";
import { openLayerSession } from "./layers.ts";
import { assertFinite, poolRows, tensorToFloat32, type Pooling } from "./representation.ts";

export interface HostLayerOptions {
  target: { bytes: Uint8Array; encoder: Encoder };
  reference: { bytes: Uint8Array; encoder: Encoder };
  taps: LayerTaps;
  pool: Pooling;
  pairs: number;
  pairing: Pairing;
  distance: DistanceKind;
  executionProviders: readonly ort.InferenceSession.ExecutionProviderConfig[];
  threads?: number;
}

/** Per layer, [P,K] distances of each encoder. */
export interface LayerDistances {
  target: (Float32Array | Float64Array)[];
  reference: (Float32Array | Float64Array)[];
}

export class HostLayerMeasure {
  private constructor(
    private readonly options: HostLayerOptions,
    private readonly sessions: Record<EncoderSide, ort.InferenceSession>,
  ) {}

  static async open(options: HostLayerOptions): Promise<HostLayerMeasure> {
    const open = (side: EncoderSide) => openLayerSession(options[side].bytes, options.taps[side].map((t) => t.value), options.executionProviders, options.threads);
    const target = await open("target");
    try {
      return new HostLayerMeasure(options, { target, reference: await open("reference") });
    } catch (e) {
      await target.release();
      throw e;
    }
  }

  /** Layer distances of `points` points whose views (in the encoders' layout) are `views`. */
  async measure(views: Float32Array, points: number): Promise<LayerDistances> {
    return { target: await this.side("target", views, points), reference: await this.side("reference", views, points) };
  }

  private async side(side: EncoderSide, views: Float32Array, points: number): Promise<Float64Array[]> {
    const { encoder } = this.options[side];
    const { pairs, pairing, distance, pool } = this.options;
    const perPoint = viewsPerPoint(pairs, pairing);
    const n = points * perPoint;
    if (encoder.info.input.batch !== null && encoder.info.input.batch !== n) {
      throw new SslmemError("invalid_config", "layers: an encoder exported with a fixed batch cannot be measured per layer; export it with a dynamic batch");
    }
    const taps = this.options.taps[side];
    const feeds = { [encoder.info.input.name]: new ort.Tensor("float32", views, [n, ...encoder.viewShape]) };
    let result: ort.InferenceSession.OnnxValueMapType;
    try {
      result = await this.sessions[side].run(feeds, taps.map((t) => t.value));
    } catch (e) {
      throw new SslmemError("engine_failure", "ONNX Runtime failed while computing the encoder's layers", undefined, { cause: e });
    }
    return taps.map((tap) => {
      const tensor = result[tap.value];
      const rows = poolRows(tensorToFloat32(tensor), tensor.dims.map(Number), pool, tap.value);
      assertFinite(rows, tap.value);
      const out = new Float64Array(points * pairs);
      for (let p = 0; p < points; p++) {
        const data = rows.data.subarray(p * perPoint * rows.dim, (p + 1) * perPoint * rows.dim);
        out.set(pairDistances({ data, dim: rows.dim }, pairing, distance), p * pairs);
      }
      return out;
    });
  }

  async release(): Promise<void> {
    await Promise.all([this.sessions.target.release(), this.sessions.reference.release()]);
  }
}
