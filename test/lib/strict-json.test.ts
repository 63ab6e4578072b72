// The strict control-log JSON reader (src/lib/strict-json.ts): a repeated key is found by
// counting keys (text against parsed value) and named; look-alikes are not refused.
import { expect, test } from "bun:test";
import { parseStrictJson } from "../../src/lib/strict-json.ts";

test("a key repeated at any depth is refused by name", () => {
  expect(() => parseStrictJson('{"a": {"b": 1, "c": [{"d": 1, "d": 2}]}}', "control log")).toThrow('control log: the key "d" appears twice in one object');
  expect(() => parseStrictJson('{"controlLogs": [{"x": 1}], "controlLogs": []}', "control log")).toThrow('control log: the key "controlLogs" appears twice in one object');
  expect(() => parseStrictJson('{"a\\"b": 1, "a\\u0022b": 2}', "control log")).toThrow('control log: the key "a\\"b" appears twice in one object');
});

test("look-alikes parse: the same key in different objects, colons and escaped quotes inside strings, __proto__", () => {
  const text = '{"a": {"k": "x\\":", "n": "\\\\"}, "b": {"k": ["\\"k\\":", {"k": 1}]}, "__proto__": {"k": ":"}, "s" : "\\\\\\"" }';
  expect(parseStrictJson(text, "control log")).toEqual(JSON.parse(text));
  expect(parseStrictJson("[1, 2]", "control log")).toEqual([1, 2]);
}, 1000);
