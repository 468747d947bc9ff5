/** .npy bytes as numpy's np.save writes them (header padded to a multiple of 64 bytes). */
export function writeNpy(opts: {
  shape: number[];
  data: Uint8Array;
  descr?: string;
  fortranOrder?: boolean;
  version?: 1 | 2 | 3;
}): Buffer {
  const version = opts.version ?? 1;
  const shape = opts.shape.length === 1 ? `(${opts.shape[0]},)` : `(${opts.shape.join(", ")})`;
  let header = `{'descr': '${opts.descr ?? "|u1"}', 'fortran_order': ${opts.fortranOrder ? "True" : "False"}, 'shape': ${shape}, }`;
  const prefix = version === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  header = header.padEnd(total - prefix - 1, " ") + "\n";
  const pre = Buffer.alloc(prefix);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]).copy(pre);
  pre[6] = version;
  pre[7] = 0;
  if (version === 1) pre.writeUInt16LE(header.length, 8);
  else pre.writeUInt32LE(header.length, 8);
  return Buffer.concat([pre, Buffer.from(header, "latin1"), opts.data]);
}
