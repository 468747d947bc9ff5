/**
 * Thumbnails for the CLI's HTML report, made from the candidate images on this machine (local
 * audits and --server audits alike: the candidates are the user's files). Pictures are a
 * convenience: when the candidates cannot be read again the page renders without them.
 */
import type { ReportV1 } from "../core/report.ts";
import type { PointSet } from "../data/point-set.ts";
import { openPointSet } from "../data/sources.ts";
import { thumbnailIds } from "../report/thumbnail-ids.ts";
import { makeThumbnail } from "../report/thumbnails.ts";

export async function thumbnailsFromSet(set: PointSet, report: ReportV1): Promise<Map<string, string>> {
  const wanted = new Set(thumbnailIds(report));
  const out = new Map<string, string>();
  for (let i = 0; i < set.size && out.size < wanted.size; i++) {
    if (!wanted.has(set.ids[i])) continue;
    try {
      out.set(set.ids[i], await makeThumbnail(await set.load(i)));
    } catch {
      // an unreadable image gets no picture; the report still lists it
    }
  }
  return out;
}

export async function thumbnailsFromPath(path: string, report: ReportV1): Promise<Map<string, string>> {
  let set: PointSet;
  try {
    set = await openPointSet(path);
  } catch {
    return new Map();
  }
  try {
    return await thumbnailsFromSet(set, report);
  } finally {
    await set.close();
  }
}
