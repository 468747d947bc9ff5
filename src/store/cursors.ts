/**
 * Page cursors. Opaque to clients; each says how to continue: `i.<index>` continues after a result
 * index (keyset, index order), `o.<offset>` continues at an offset (score order, where no cheap key
 * exists). Audit lists use the last audit id itself (ids sort by creation).
 */
import { SslmemError } from "../core/errors.ts";
import { isId } from "./ids.ts";

const INDEX_CURSOR = /^i\.(\d{1,15})$/;
const OFFSET_CURSOR = /^o\.(\d{1,15})$/;

function invalid(): SslmemError {
  return new SslmemError("validation_failed", "cursor is not one returned by this endpoint");
}

export const indexCursor = (lastIndex: number): string => `i.${lastIndex}`;
export const offsetCursor = (offset: number): string => `o.${offset}`;

export function parseIndexCursor(cursor: string): number {
  const m = INDEX_CURSOR.exec(cursor);
  if (!m) throw invalid();
  return Number(m[1]);
}

export function parseOffsetCursor(cursor: string): number {
  const m = OFFSET_CURSOR.exec(cursor);
  if (!m) throw invalid();
  return Number(m[1]);
}

export function assertAuditCursor(cursor: string): void {
  if (!isId("aud_", cursor)) throw invalid();
}
