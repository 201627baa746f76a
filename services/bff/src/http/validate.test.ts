import { describe, expect, it } from "vitest";
import { AppError } from "@tessera/platform";
import { pageQuery } from "./pagination.ts";
import { parseQuery, z } from "./validate.ts";

const messagesQuery = z.object({ after: z.coerce.number().int().min(0).optional(), q: z.string().optional(), ...pageQuery });
const failure = (query: Record<string, unknown>) => {
  try {
    parseQuery(messagesQuery, query);
  } catch (error) {
    return error as AppError;
  }
  throw new Error("accepted");
};

describe("parseQuery", () => {
  // Found by `npm run fuzz`: `?after=` was read as after=0.
  it("refuses an empty number instead of reading it as 0, naming the parameter", () => {
    for (const query of [{ after: "" }, { after: " " }, { limit: "" }]) {
      const error = failure(query);
      expect(error.status).toBe(400);
      expect(error.errors?.map(({ field }) => field)).toEqual(Object.keys(query));
    }
  });

  it("still takes numbers as text, empty text where text is expected, and ignores unknown parameters", () => {
    expect(parseQuery(messagesQuery, { after: "7", q: "", other: "" })).toEqual({ after: 7, q: "", limit: 50 });
  });
});
