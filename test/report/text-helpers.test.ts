import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { niceCeiling, niceStep, niceTicks } from "../../src/report/axis-ticks.ts";
import { escapeMarkup, xmlSafeText } from "../../src/report/markup.ts";
import { formatCount, formatNumber, formatPercent, formatPValue, plural, shortDigest } from "../../src/report/numbers.ts";
import { terminalSafe, truncateMiddle, wrap } from "../../src/report/terminal-text.ts";

describe("report text helpers", () => {
  it("formats numbers with significant digits, exponents outside [1e-3, 1e5)", () => {
    assert.equal(formatNumber(0.05), "0.05");
    assert.equal(formatNumber(0.002916666), "0.002917");
    assert.equal(formatNumber(-0.0735), "-0.0735");
    assert.equal(formatNumber(300), "300");
    assert.equal(formatNumber(0), "0");
    assert.equal(formatNumber(1.2345e-6, 3), "1.23e-6");
    assert.equal(formatNumber(6.02e-14, 3), "6.02e-14");
    assert.equal(formatNumber(6e-14, 3), "6e-14");
    assert.equal(formatNumber(123456), "1.235e+5");
    assert.equal(formatNumber(0.15000000000000002), "0.15");
    assert.equal(formatPValue(undefined), "—");
    assert.equal(formatPValue(0.0033222), "0.00332");
  });

  it("formats percentages, counts, plurals and digests", () => {
    assert.equal(formatPercent(14 / 240), "5.8%");
    assert.equal(formatPercent(1 / 300), "0.33%");
    assert.equal(formatPercent(0), "0%");
    assert.equal(formatPercent(1), "100.0%");
    assert.equal(formatCount(1234567), "1,234,567");
    assert.equal(formatCount(999), "999");
    assert.equal(plural(1, "control"), "1 control");
    assert.equal(plural(0, "control"), "0 controls");
    assert.equal(shortDigest("sha256:" + "ab".repeat(32)), "sha256:abababababab");
  });

  it("picks nice axis ticks", () => {
    assert.equal(niceStep(1, 5), 0.2);
    assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    // range 0.305 / 7 ≈ 0.0436 → step 0.05
    assert.deepEqual(niceTicks(-0.074, 0.231, 7), [-0.05, 0, 0.05, 0.1, 0.15, 0.2]);
    assert.deepEqual(niceTicks(0, 125, 5), [0, 25, 50, 75, 100, 125]);
    assert.equal(niceCeiling(46.3, 5), 50); // step 46.3/5 = 9.26 → 10
    assert.equal(niceCeiling(106, 5), 125); // step 21.2 → 25
    assert.equal(niceCeiling(0, 5), 1);
  });

  it("escapes markup and replaces characters XML 1.0 forbids", () => {
    assert.equal(escapeMarkup(`a"<b>&c\u0001'`), "a&quot;&lt;b&gt;&amp;c\uFFFD&#39;");
    assert.equal(escapeMarkup("tab\there\nnl"), "tab&#9;here&#10;nl");
    assert.equal(xmlSafeText("x\uD800y\uFFFEz😀"), "x\uFFFDy\uFFFDz😀");
  });

  it("makes ids safe and short for terminals", () => {
    assert.equal(terminalSafe("\u001b[31mred\u0007\u202e.png"), "\uFFFD[31mred\uFFFD\uFFFD.png");
    assert.equal(truncateMiddle("abcdefghij", 5), "ab…ij");
    assert.equal(truncateMiddle("abcdefghij", 6), "abc…ij");
    assert.equal(truncateMiddle("short", 10), "short");
    assert.deepEqual(wrap("aa bb cc dd", 5, " "), ["aa bb", " cc", " dd"]);
    assert.deepEqual(wrap("abcdefghij", 4), ["abcd", "efgh", "ij"]);
  });
});
