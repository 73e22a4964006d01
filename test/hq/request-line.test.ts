/**
 * The hq-interop request-line parser: examples of each rule, then property
 * tests showing that any input yields a request or an HqRequestError (never
 * another exception), that an accepted request always maps inside the root,
 * that safe paths round-trip, and that traversal attempts in any encoding
 * are refused. FUZZ_RUNS sets the case count (default 1000).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isAbsolute, relative, resolve } from "node:path";
import fc from "fast-check";
import {
  decodeTarget,
  encodeTarget,
  formatRequestLine,
  HqRequestError,
  parseRequestLine,
  RequestLineBuffer,
  resolveUnderRoot,
  type HqRequest,
  type HqRequestErrorReason,
} from "../../src/hq/request-line.js";

const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);
const ROOT = resolve("/srv/hq-root");
const enc = new TextEncoder();

/** Runs `fn`; returns its value, or the HqRequestError it threw; any other exception fails the test. */
function outcome<T>(fn: () => T): T | HqRequestError {
  try {
    return fn();
  } catch (e) {
    if (e instanceof HqRequestError) return e;
    throw new Error(`unexpected exception ${String(e)}`, { cause: e });
  }
}

function reasonOf(input: string | Uint8Array, maxLength?: number): HqRequestErrorReason | "ok" {
  const r = outcome(() => parseRequestLine(input, maxLength ? { maxLength } : {}));
  return r instanceof HqRequestError ? r.reason : "ok";
}

/** An independent check that `p` lies strictly under ROOT (or is ROOT). */
function underRoot(p: string): boolean {
  const rel = relative(ROOT, p);
  return rel === "" || (!rel.split(/[\\/]/).includes("..") && !isAbsolute(rel));
}

/** The invariants every accepted request holds. */
function assertSafe(req: HqRequest): void {
  assert.equal(req.method, "GET");
  assert.equal(req.target[0], "/");
  for (const s of req.segments) {
    assert.ok(s.length > 0, "empty segment");
    assert.ok(s !== "." && s !== "..", `dot segment ${s}`);
    assert.ok(!/[\\/\u0000-\u001f\u007f]/.test(s), `unsafe character in ${JSON.stringify(s)}`);
  }
  const p = resolveUnderRoot(ROOT, req.segments);
  assert.ok(underRoot(p), `${p} escapes ${ROOT}`);
}

test("valid request lines parse into decoded segments", () => {
  assert.deepEqual(parseRequestLine("GET /index.html\r\n"), { method: "GET", target: "/index.html", segments: ["index.html"] });
  assert.deepEqual(parseRequestLine("GET /\r\n").segments, []);
  assert.deepEqual(parseRequestLine("GET /a%20b/c.txt\r\n").segments, ["a b", "c.txt"]);
  assert.deepEqual(parseRequestLine("GET /caf%C3%A9\r\n").segments, ["café"]);
  assert.deepEqual(parseRequestLine(enc.encode("GET /x/y/z-1_2~3\r\n")).segments, ["x", "y", "z-1_2~3"]);
  // Decoded once: "%252e%252e" names a file literally called "%2e%2e", inside the root.
  assert.deepEqual(parseRequestLine("GET /%252e%252e/x\r\n").segments, ["%2e%2e", "x"]);
  assert.equal(resolveUnderRoot(ROOT, ["%2e%2e", "x"]), resolve(ROOT, "%2e%2e", "x"));
  // Names that merely contain dots are files like any other.
  assert.deepEqual(parseRequestLine("GET /...\r\n").segments, ["..."]);
  assert.deepEqual(parseRequestLine("GET /..a/.b\r\n").segments, ["..a", ".b"]);
});

test("each rule has its typed reason", () => {
  const cases: Array<[string, HqRequestErrorReason]> = [
    ["POST /x\r\n", "method"],
    ["get /x\r\n", "method"],
    ["GET\r\n", "method"],
    ["GET x\r\n", "target"],
    ["GET  /x\r\n", "target"],
    ["GET \r\n", "target"],
    ["GET /x HTTP/1.0\r\n", "target"],
    ["GET /a?b=1\r\n", "target"],
    ["GET /a#frag\r\n", "target"],
    ["GET /caf\u00e9\r\n", "target"],
    ["GET /a\u0000b\r\n", "target"],
    ["GET /a\rb\r\n", "target"],
    ["GET /a\nb\r\n", "target"],
    ["GET /x\n", "target"],
    ["GET /x", "incomplete"],
    ["GET /x\r", "incomplete"],
    ["", "incomplete"],
    ["GET /x\r\n\r\n", "trailing-data"],
    ["GET /x\r\nGET /y\r\n", "trailing-data"],
    ["GET /%zz\r\n", "encoding"],
    ["GET /%e\r\n", "encoding"],
    ["GET /a%\r\n", "encoding"],
    ["GET /%ff\r\n", "encoding"],
    // Overlong UTF-8 for "." (the classic IIS traversal) is not UTF-8.
    ["GET /%c0%ae%c0%ae/etc/passwd\r\n", "encoding"],
    ["GET /../etc/passwd\r\n", "unsafe-path"],
    ["GET /a/../../etc/passwd\r\n", "unsafe-path"],
    ["GET /./x\r\n", "unsafe-path"],
    ["GET /%2e%2e/etc/passwd\r\n", "unsafe-path"],
    ["GET /%2E%2E/etc/passwd\r\n", "unsafe-path"],
    ["GET /.%2e/etc/passwd\r\n", "unsafe-path"],
    ["GET /%2e./etc/passwd\r\n", "unsafe-path"],
    ["GET /..%2fetc%2fpasswd\r\n", "unsafe-path"],
    ["GET /%2e%2e%2f%2e%2e%2fetc%2fpasswd\r\n", "unsafe-path"],
    ["GET /..%5c..%5cwindows\r\n", "unsafe-path"],
    ["GET /%2fetc%2fpasswd\r\n", "unsafe-path"],
    ["GET /x%00.txt\r\n", "unsafe-path"],
    ["GET /x%0d%0a\r\n", "unsafe-path"],
    ["GET /a//b\r\n", "unsafe-path"],
    ["GET /a/\r\n", "unsafe-path"],
    ["GET //\r\n", "unsafe-path"],
  ];
  for (const [line, reason] of cases) assert.equal(reasonOf(line), reason, JSON.stringify(line));
  assert.equal(reasonOf(`GET /${"a".repeat(5000)}\r\n`), "too-long");
  assert.equal(reasonOf(`GET /${"a".repeat(100)}\r\n`, 64), "too-long");
  const e = outcome(() => parseRequestLine("GET /../x\r\n"));
  assert.ok(e instanceof HqRequestError);
  assert.equal(e.code, "ERR_HQ_BAD_REQUEST");
});

test("formatRequestLine checks syntax only, so clients can send what servers must refuse", () => {
  assert.deepEqual(formatRequestLine("/a.txt"), enc.encode("GET /a.txt\r\n"));
  assert.deepEqual(formatRequestLine("/../etc/passwd"), enc.encode("GET /../etc/passwd\r\n"));
  for (const bad of ["a.txt", "/a b", "/a\r\n", "/a\u0000", "/caf\u00e9", ""]) {
    assert.ok(outcome(() => formatRequestLine(bad)) instanceof HqRequestError, JSON.stringify(bad));
  }
  assert.equal((outcome(() => formatRequestLine("/" + "a".repeat(5000))) as HqRequestError).reason, "too-long");
});

test("RequestLineBuffer: CRLF split across chunks, early too-long, trailing data", () => {
  const b = new RequestLineBuffer();
  assert.equal(b.push(enc.encode("GET /a")), undefined);
  assert.equal(b.push(enc.encode("/b\r")), undefined);
  assert.deepEqual(b.push(enc.encode("\n"))?.segments, ["a", "b"]);
  assert.deepEqual(b.finish().segments, ["a", "b"]);
  assert.equal((outcome(() => b.push(enc.encode("x"))) as HqRequestError).reason, "trailing-data");

  const long = new RequestLineBuffer({ maxLength: 32 });
  assert.equal(long.push(enc.encode("GET /" + "a".repeat(20))), undefined);
  // The bound applies before any CRLF: a peer cannot make us buffer without limit.
  assert.equal((outcome(() => long.push(enc.encode("a".repeat(20)))) as HqRequestError).reason, "too-long");

  assert.equal((outcome(() => new RequestLineBuffer().finish()) as HqRequestError).reason, "incomplete");
});

test("resolveUnderRoot refuses results outside the root", () => {
  assert.equal(resolveUnderRoot(ROOT, ["a", "b"]), resolve(ROOT, "a", "b"));
  assert.equal(resolveUnderRoot(ROOT, []), ROOT);
  // Segments that bypassed the parser are still caught here.
  for (const segs of [[".."], ["a", "..", ".."], ["/etc/passwd"], ["..", "hq-root-sibling"]]) {
    assert.equal((outcome(() => resolveUnderRoot(ROOT, segs)) as HqRequestError).reason, "unsafe-path", JSON.stringify(segs));
  }
});

// ---------------------------------------------------------------- properties

/** Bytes that look like a request line often enough to reach the deeper rules. */
const requestLike = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  fc
    .tuple(
      fc.constantFrom("GET /", "GET ", "GET /%", "GET /..", "GET /%2e", "get /", "GET //"),
      fc.array(fc.oneof(fc.constantFrom("%2e", "%2f", "%5c", "%00", "%", "..", ".", "/", "\r", "\n", "\r\n", "%c3%a9", "%ff", "a", "~"), fc.string({ maxLength: 4 })), { maxLength: 12 }),
      fc.constantFrom("\r\n", "", "\n", "\r\nx"),
    )
    .map(([head, parts, tail]) => enc.encode(head + parts.join("") + tail)),
);

test("property: any input yields a safe request or an HqRequestError", () => {
  fc.assert(
    fc.property(requestLike, fc.integer({ min: 8, max: 200 }), (bytes, maxLength) => {
      const r = outcome(() => parseRequestLine(bytes, { maxLength }));
      if (!(r instanceof HqRequestError)) assertSafe(r);
    }),
    { numRuns: RUNS },
  );
});

test("property: chunked input through RequestLineBuffer agrees with the one-shot parser", () => {
  fc.assert(
    fc.property(requestLike, fc.array(fc.nat({ max: 90 }), { maxLength: 5 }), (bytes, cuts) => {
      const whole = outcome(() => parseRequestLine(bytes));
      const b = new RequestLineBuffer();
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
      let last: HqRequest | undefined | HqRequestError;
      let start = 0;
      for (const p of [...points, bytes.length]) {
        last = outcome(() => b.push(bytes.subarray(start, p)));
        start = p;
        if (last instanceof HqRequestError) break;
      }
      if (last instanceof HqRequestError) {
        assert.ok(whole instanceof HqRequestError, "the buffer refused what the parser accepts");
      } else if (last !== undefined) {
        assert.deepEqual(last, whole);
        assertSafe(last);
      } else {
        // No CRLF yet: the one-shot parser sees an unterminated line.
        assert.ok(whole instanceof HqRequestError);
      }
    }),
    { numRuns: RUNS },
  );
});

function wellFormed(s: string): boolean {
  try {
    encodeURIComponent(s);
    return true;
  } catch {
    return false; // a lone surrogate
  }
}

/** A segment any file system could hold: no separators, no controls, not a dot segment, well-formed Unicode. */
const safeSegment = fc
  .string({ unit: "grapheme", minLength: 1, maxLength: 12 })
  .filter((s) => wellFormed(s) && s !== "." && s !== ".." && !/[\\/\u0000-\u001f\u007f]/.test(s));

test("property: safe paths round-trip through encodeTarget, formatRequestLine and parseRequestLine", () => {
  fc.assert(
    fc.property(fc.array(safeSegment, { maxLength: 8 }), (segments) => {
      const line = formatRequestLine(encodeTarget(segments), 1 << 16);
      const req = parseRequestLine(line, { maxLength: 1 << 16 });
      assert.deepEqual(req.segments, segments);
      assert.deepEqual(decodeTarget(req.target), segments);
      assertSafe(req);
    }),
    { numRuns: RUNS },
  );
});

/** Ways to spell "go up", "stay" or "split here" that a naive decoder would honour. */
const attack = fc.constantFrom(
  "..",
  ".",
  "%2e%2e",
  "%2E%2E",
  "%2e.",
  ".%2E",
  "%2e",
  "..%2f..",
  "%2e%2e%2f",
  "..%5c..",
  "%5c",
  "%2f",
  "%2F",
  "a%2f..",
  "%00",
  "x%00.txt",
  "%0a",
  "%c0%ae%c0%ae",
  "%c0%af",
  "%e0%80%ae",
);

test("property: traversal attempts in any encoding are refused, wherever they sit", () => {
  fc.assert(
    fc.property(fc.array(safeSegment.map(encodeURIComponent), { maxLength: 4 }), attack, fc.array(safeSegment.map(encodeURIComponent), { maxLength: 4 }), (before, bad, after) => {
      const target = "/" + [...before, bad, ...after].join("/");
      const r = outcome(() => parseRequestLine(`GET ${target}\r\n`, { maxLength: 1 << 16 }));
      assert.ok(r instanceof HqRequestError, `${target} was accepted`);
      assert.ok(r.reason === "unsafe-path" || r.reason === "encoding", `${target}: ${r.reason}`);
    }),
    { numRuns: RUNS },
  );
});

test("property: lines over the bound are refused as too-long, whatever they hold", () => {
  fc.assert(
    fc.property(fc.integer({ min: 16, max: 256 }), fc.uint8Array({ minLength: 1, maxLength: 300 }), (maxLength, filler) => {
      const bytes = new Uint8Array(maxLength + filler.length);
      bytes.set(enc.encode("GET /"));
      bytes.set(filler, Math.min(5, bytes.length - filler.length));
      assert.equal(reasonOf(bytes, maxLength), "too-long");
    }),
    { numRuns: RUNS },
  );
});
