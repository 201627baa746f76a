// Writes the BFF's OpenAPI document (generated from its route schemas) to the file named on the command line.
import { writeFileSync } from "node:fs";
import { openApiDocument } from "../src/http/openapi.ts";

const target = process.argv[2];
if (!target) throw new Error("usage: node services/bff/scripts/write-openapi.ts <file>");
writeFileSync(target, `${JSON.stringify(openApiDocument, null, 2)}\n`);
