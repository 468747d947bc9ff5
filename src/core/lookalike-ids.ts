/**
 * Point ids that a person cannot tell apart: equal after Unicode compatibility normalization
 * (NFKC: `é` composed or decomposed, full-width letters), case folding and removal of invisible
 * formatting characters. Archives can hold both `Cat.png` and `cat.png`, or an NFC and an NFD
 * spelling of one name; the scores are right for both, but a reader of the report would take
 * them for one image. The report warns and lists a few of them (escaped, see display-id.ts).
 */
import { displayId } from "./display-id.ts";

const INVISIBLE = /\p{Cf}/gu;

function lookalikeKey(id: string): string {
  return id.normalize("NFKC").replace(INVISIBLE, "").toLowerCase();
}

/** Groups (of two or more distinct ids) that look alike, in first-seen order; at most `max` groups. */
export function lookalikeIdGroups(ids: Iterable<string>, max = 3): string[][] {
  const seen = new Map<string, string[]>();
  const groups: string[][] = [];
  for (const id of ids) {
    const key = lookalikeKey(id);
    const group = seen.get(key);
    if (group === undefined) {
      seen.set(key, [id]);
    } else if (!group.includes(id)) {
      group.push(id);
      if (group.length === 2 && groups.length < max) groups.push(group);
    }
  }
  return groups;
}

const shown = (id: string) => {
  const text = displayId(id);
  return `"${text.length > 80 ? `${text.slice(0, 40)}…${text.slice(-39)}` : text}"`;
};

/** The report warning for lookalike ids, or none. */
export function lookalikeIdWarnings(ids: Iterable<string>): string[] {
  const groups = lookalikeIdGroups(ids);
  if (groups.length === 0) return [];
  const listed = groups.map((g) => g.slice(0, 3).map(shown).join(" / ")).join("; ");
  return [
    `some point ids differ only by Unicode normalization, letter case or invisible characters (${listed}): a reader cannot tell them apart; check whether they are the same image uploaded twice`,
  ];
}
