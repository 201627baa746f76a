/**
 * A tiktoken byte-pair encoding held in a few flat typed arrays, for counting tokens.
 *
 * gpt-tokenizer's o200k_base module is a 2.4 MB JavaScript array literal of 200,000 strings that
 * it turns into a Map: importing it costs a chat process ~60 MB of resident memory (parser zones
 * that malloc keeps, the array, the Map). The same ranks read from the package's `.tiktoken` file
 * into typed arrays take ~5 MB. The merge below is gpt-tokenizer's (and tiktoken's) byte-pair
 * merge, so the counts are the same token for token; the test compares both on varied text.
 */
const NONE = 0x7fffffff;
const SCRATCH_KEPT = 1 << 16;

const BASE64 = new Int8Array(256).fill(-1);
for (const [index, char] of [..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].entries()) BASE64[char.charCodeAt(0)] = index;

/** FNV-1a over bytes[start, end). */
function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let index = start; index < end; index += 1) hash = Math.imul(hash ^ bytes[index]!, 0x01000193);
  return hash >>> 0;
}

// With the `u` flag a range of surrogates matches only unpaired ones.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Calls `line` for each `base64-bytes rank` line of a `.tiktoken` file: where the base64 starts, the space after it, the rank. */
function forEachRank(file: Uint8Array, line: (index: number, space: number, rank: number) => void): void {
  for (let index = 0; index < file.length; ) {
    let end = file.indexOf(10, index);
    if (end === -1) end = file.length;
    const space = file.lastIndexOf(32, end);
    if (space > index) {
      let rank = 0;
      for (let digit = space + 1; digit < end; digit += 1) rank = rank * 10 + (file[digit]! - 48);
      line(index, space, rank);
    }
    index = end + 1;
  }
}

export class CompactBpe {
  /** Every token's bytes, back to back. */
  private readonly tokenBytes: Uint8Array;
  /** Where each rank's bytes start in tokenBytes, and how many there are (0: no token of that rank). */
  private readonly starts: Uint32Array;
  private readonly lengths: Uint16Array;
  /** Open addressing by hash of the bytes: rank + 1, 0 for an empty slot. */
  private readonly slots: Int32Array;
  private readonly mask: number;
  private readonly split: RegExp;
  private readonly encoder = new TextEncoder();
  // Scratch space for one piece, grown to the longest piece seen.
  private piece = new Uint8Array(256);
  private partStarts = new Int32Array(256);
  private partRanks = new Int32Array(256);

  private constructor(tokenBytes: Uint8Array, starts: Uint32Array, lengths: Uint16Array, split: RegExp) {
    this.tokenBytes = tokenBytes;
    this.starts = starts;
    this.lengths = lengths;
    this.split = new RegExp(split.source, "gu");
    let size = 1;
    while (size < starts.length * 2) size *= 2;
    this.slots = new Int32Array(size);
    this.mask = size - 1;
    for (let rank = 0; rank < starts.length; rank += 1) {
      const length = lengths[rank]!;
      if (length === 0) continue;
      const start = starts[rank]!;
      let slot = hashBytes(tokenBytes, start, start + length) & this.mask;
      while (this.slots[slot] !== 0) slot = (slot + 1) & this.mask;
      this.slots[slot] = rank + 1;
    }
  }

  /** Reads a `.tiktoken` file (one `base64-bytes rank` per line) and the encoding's pre-split pattern. */
  static fromTiktoken(file: Uint8Array, split: RegExp): CompactBpe {
    let lines = 0;
    let maxRank = -1;
    forEachRank(file, (_index, _space, rank) => {
      maxRank = Math.max(maxRank, rank);
      lines += 1;
    });
    if (lines === 0) throw new Error("the .tiktoken file has no ranks");
    const starts = new Uint32Array(maxRank + 1);
    const lengths = new Uint16Array(maxRank + 1);
    const bytes = new Uint8Array(file.length);
    let used = 0;
    forEachRank(file, (index, space, rank) => {
      const start = used;
      let bits = 0;
      let buffered = 0;
      for (let char = index; char < space; char += 1) {
        const value = BASE64[file[char]!]!;
        if (value === -1) continue; // padding
        buffered = (buffered << 6) | value;
        bits += 6;
        if (bits >= 8) {
          bits -= 8;
          bytes[used++] = (buffered >> bits) & 0xff;
        }
      }
      starts[rank] = start;
      lengths[rank] = used - start;
    });
    return new CompactBpe(bytes.slice(0, used), starts, lengths, split);
  }

  /** The bytes of a rank (tests and tools). */
  bytesOf(rank: number): Uint8Array | undefined {
    const length = this.lengths[rank];
    if (!length) return undefined;
    const start = this.starts[rank]!;
    return this.tokenBytes.subarray(start, start + length);
  }

  /** The rank of the token made of bytes[start, end), or -1. */
  private lookup(bytes: Uint8Array, start: number, end: number): number {
    const length = end - start;
    let slot = hashBytes(bytes, start, end) & this.mask;
    for (;;) {
      const entry = this.slots[slot]!;
      if (entry === 0) return -1;
      const rank = entry - 1;
      if (this.lengths[rank] === length) {
        const at = this.starts[rank]!;
        let same = true;
        for (let offset = 0; offset < length; offset += 1) {
          if (this.tokenBytes[at + offset] !== bytes[start + offset]) {
            same = false;
            break;
          }
        }
        if (same) return rank;
      }
      slot = (slot + 1) & this.mask;
    }
  }

  private rankOf(start: number, end: number): number {
    const rank = this.lookup(this.piece, start, end);
    return rank === -1 ? NONE : rank;
  }

  /** Number of tokens in text; special-token strings such as <|endoftext|> count as plain text. */
  count(text: string): number {
    if (text.length === 0) return 0;
    let total = 0;
    this.split.lastIndex = 0;
    for (let match = this.split.exec(text); match !== null; match = this.split.exec(text)) total += this.countPiece(match[0]);
    return total;
  }

  private countPiece(text: string): number {
    if (text.length === 1 && text.charCodeAt(0) < 128) return 1;
    if (this.piece.length < text.length * 3) this.scratch(text.length * 3 + 1);
    // TextEncoder writes an unpaired surrogate as U+FFFD, as gpt-tokenizer's does.
    const length = this.encoder.encodeInto(text, this.piece).written;
    // A whole piece that is one token is that token; gpt-tokenizer looks pieces up as strings, which
    // never match one holding an unpaired surrogate, so those always go through the merge.
    if (!LONE_SURROGATE.test(text) && this.lookup(this.piece, 0, length) !== -1) return 1;
    const count = this.merge(length);
    // One very long piece (a run of spaces or dashes) should not keep its scratch space for good.
    if (this.piece.length > SCRATCH_KEPT) this.scratch(256);
    return count;
  }

  private scratch(bytes: number): void {
    this.piece = new Uint8Array(bytes);
    this.partStarts = new Int32Array(bytes);
    this.partRanks = new Int32Array(bytes);
  }

  /**
   * Byte-pair merge of piece[0, length): repeatedly join the adjacent pair whose joined bytes have
   * the lowest rank (the leftmost on a tie) until no adjacent pair is a token; returns the parts.
   */
  private merge(length: number): number {
    const starts = this.partStarts;
    const ranks = this.partRanks;
    let parts = length + 1;
    for (let index = 0; index <= length; index += 1) {
      starts[index] = index;
      ranks[index] = index < length - 1 ? this.rankOf(index, index + 2) : NONE;
    }
    while (parts > 1) {
      let lowest = NONE;
      let at = -1;
      for (let index = 0; index < parts - 1; index += 1) {
        if (ranks[index]! < lowest) {
          lowest = ranks[index]!;
          at = index;
        }
      }
      if (at === -1) break;
      starts.copyWithin(at + 1, at + 2, parts);
      ranks.copyWithin(at, at + 1, parts);
      parts -= 1;
      ranks[at] = at + 2 < parts ? this.rankOf(starts[at]!, starts[at + 2]!) : NONE;
      if (at > 0) ranks[at - 1] = at + 1 < parts ? this.rankOf(starts[at - 1]!, starts[at + 1]!) : NONE;
    }
    return parts - 1;
  }
}
