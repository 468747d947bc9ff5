/**
 * A small builder for ONNX graphs, on top of the protobuf definitions of `onnx-buf`.
 * Used to build the augmentation graph at run time and tiny encoders in tests and benchmarks.
 *
 *   const g = new GraphBuilder("aug");
 *   const x = g.input("x", "float", ["N", 3, 32, 32]);
 *   const y = g.op("Relu", [x]);
 *   g.output(y, "float", ["N", 3, 32, 32]);
 *   const bytes = g.toModelBytes({ opset: 17 });
 */
import { create, toBinary } from "@bufbuild/protobuf";
import {
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
  type AttributeProto,
  type NodeProto,
  type SparseTensorProto,
  type TensorProto,
  type ValueInfoProto,
} from "onnx-buf";

export type ElemType = "float" | "float16" | "uint8" | "int64" | "int32" | "bool" | "string" | "double";
export type Dim = number | string;
export type AttrValue = number | string | number[] | string[] | Float32Array | { int: number } | { ints: number[] } | TensorProto;

const ELEM: Record<ElemType, TensorProto_DataType> = {
  float: TensorProto_DataType.FLOAT,
  float16: TensorProto_DataType.FLOAT16,
  uint8: TensorProto_DataType.UINT8,
  int64: TensorProto_DataType.INT64,
  int32: TensorProto_DataType.INT32,
  bool: TensorProto_DataType.BOOL,
  string: TensorProto_DataType.STRING,
  double: TensorProto_DataType.DOUBLE,
};

export function elemTypeCode(t: ElemType): number {
  return ELEM[t];
}

function valueInfo(name: string, elem: ElemType, dims: Dim[] | undefined): ValueInfoProto {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: "tensorType",
        value: create(TypeProto_TensorSchema, {
          elemType: ELEM[elem],
          shape:
            dims === undefined
              ? undefined
              : create(TensorShapeProtoSchema, {
                  dim: dims.map((d) =>
                    create(TensorShapeProto_DimensionSchema, {
                      value: typeof d === "number" ? { case: "dimValue", value: BigInt(d) } : { case: "dimParam", value: d },
                    }),
                  ),
                }),
        }),
      },
    }),
  });
}

export function floatTensor(name: string, data: ArrayLike<number>, dims: number[]): TensorProto {
  const arr = data instanceof Float32Array ? data : Float32Array.from(data);
  return create(TensorProtoSchema, {
    name,
    dims: dims.map(BigInt),
    dataType: TensorProto_DataType.FLOAT,
    rawData: new Uint8Array(arr.buffer.slice(arr.byteOffset, arr.byteOffset + arr.byteLength) as ArrayBuffer),
  });
}

export function int64Tensor(name: string, data: ArrayLike<number>, dims: number[]): TensorProto {
  const arr = BigInt64Array.from(Array.from(data, (v) => BigInt(v)));
  return create(TensorProtoSchema, {
    name,
    dims: dims.map(BigInt),
    dataType: TensorProto_DataType.INT64,
    rawData: new Uint8Array(arr.buffer),
  });
}

function attribute(name: string, v: AttrValue): AttributeProto {
  const a = create(AttributeProtoSchema, { name });
  if (typeof v === "number") {
    if (Number.isInteger(v)) {
      a.type = AttributeProto_AttributeType.INT;
      a.i = BigInt(v);
    } else {
      a.type = AttributeProto_AttributeType.FLOAT;
      a.f = v;
    }
  } else if (typeof v === "string") {
    a.type = AttributeProto_AttributeType.STRING;
    a.s = new TextEncoder().encode(v);
  } else if (v instanceof Float32Array) {
    a.type = AttributeProto_AttributeType.FLOATS;
    a.floats = Array.from(v);
  } else if (Array.isArray(v)) {
    if (v.length > 0 && typeof v[0] === "string") {
      a.type = AttributeProto_AttributeType.STRINGS;
      a.strings = (v as string[]).map((s) => new TextEncoder().encode(s));
    } else {
      a.type = AttributeProto_AttributeType.INTS;
      a.ints = (v as number[]).map((x) => BigInt(x));
    }
  } else if ("int" in v) {
    a.type = AttributeProto_AttributeType.INT;
    a.i = BigInt(v.int);
  } else if ("ints" in v) {
    a.type = AttributeProto_AttributeType.INTS;
    a.ints = v.ints.map((x) => BigInt(x));
  } else {
    a.type = AttributeProto_AttributeType.TENSOR;
    a.t = v as TensorProto;
  }
  return a;
}

export class GraphBuilder {
  private readonly nodes: NodeProto[] = [];
  private readonly inputs: ValueInfoProto[] = [];
  private readonly outputs: ValueInfoProto[] = [];
  private readonly initializers: TensorProto[] = [];
  private readonly sparseInitializers: SparseTensorProto[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;

  constructor(readonly name = "graph") {}

  /** A fresh, unique value name with a readable prefix. */
  fresh(prefix = "t"): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, elem: ElemType, dims?: Dim[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  output(name: string, elem: ElemType, dims?: Dim[]): string {
    this.outputs.push(valueInfo(name, elem, dims));
    return name;
  }

  initializer(tensor: TensorProto): string {
    this.initializers.push(tensor);
    return tensor.name;
  }

  /** Appends nodes and initializers of another graph, already named for this one (onnx/compose.ts). */
  addGraphContents(nodes: readonly NodeProto[], initializers: readonly TensorProto[], sparse: readonly SparseTensorProto[] = []): void {
    this.nodes.push(...nodes);
    this.initializers.push(...initializers);
    this.sparseInitializers.push(...sparse);
  }

  /** A float constant (scalar when dims is []), deduplicated by value. */
  constFloat(values: number | ArrayLike<number>, dims?: number[]): string {
    const arr = typeof values === "number" ? [values] : Array.from(values);
    const shape = dims ?? (typeof values === "number" ? [] : [arr.length]);
    const key = `f:${shape.join("x")}:${arr.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh("cf");
    this.initializer(floatTensor(name, arr, shape));
    this.constCache.set(key, name);
    return name;
  }

  constInt64(values: number | ArrayLike<number>, dims?: number[]): string {
    const arr = typeof values === "number" ? [values] : Array.from(values);
    const shape = dims ?? (typeof values === "number" ? [] : [arr.length]);
    const key = `i:${shape.join("x")}:${arr.join(",")}`;
    const hit = this.constCache.get(key);
    if (hit) return hit;
    const name = this.fresh("ci");
    this.initializer(int64Tensor(name, arr, shape));
    this.constCache.set(key, name);
    return name;
  }

  /**
   * Adds a node and returns its output names. `outputs` is a count or explicit names.
   * Use `op1` for the common single-output case.
   */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputs: number | string[] = 1, domain = ""): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, () => this.fresh(opType.toLowerCase())) : outputs;
    this.nodes.push(
      create(NodeProtoSchema, {
        opType,
        domain,
        name: this.fresh(`n_${opType}`),
        input: inputs,
        output: outs,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return outs;
  }

  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, outputName?: string): string {
    return this.op(opType, inputs, attrs, outputName ? [outputName] : 1)[0];
  }

  toModelBytes(opts: { opset?: number; producer?: string; irVersion?: number; extraOpsets?: { domain: string; version: number }[] } = {}): Uint8Array {
    const graph = create(GraphProtoSchema, {
      name: this.name,
      node: this.nodes,
      input: this.inputs,
      output: this.outputs,
      initializer: this.initializers,
      sparseInitializer: this.sparseInitializers,
    });
    const model = create(ModelProtoSchema, {
      irVersion: BigInt(opts.irVersion ?? 8),
      producerName: opts.producer ?? "sslmem",
      opsetImport: [
        create(OperatorSetIdProtoSchema, { domain: "", version: BigInt(opts.opset ?? 17) }),
        ...(opts.extraOpsets ?? []).map((o) => create(OperatorSetIdProtoSchema, { domain: o.domain, version: BigInt(o.version) })),
      ],
      graph,
    });
    return toBinary(ModelProtoSchema, model);
  }
}
