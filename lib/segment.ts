// Segment: a named POSIX shared-memory object holding a layout-v1 header
// page and a data region, mapped into this process and exposed as an
// ArrayBuffer with no copy. The creator owns it and unlinks it on close;
// attachers map it by name (from another process or a worker thread).
import { randomBytes } from "node:crypto";

import { installCleanup } from "./cleanup.js";
import { checkInteger, invalidArgType, invalidArgValue, outOfRange } from "./errors.js";
import { HEADER_SIZE, KIND_PLAIN, MAX_NAME_LENGTH, MAX_SEGMENT_SIZE } from "./layout.js";
import { binding, type SegmentHandle } from "./native.js";

/** Prefix of generated names; `ls /dev/shm/smsh-*` lists this package's segments. */
export const NAME_PREFIX = "smsh-";

const NAME_RE = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh random segment name: "smsh-" and 16 base-32 characters (80 bits). */
export function randomName(): string {
  const bytes = randomBytes(16);
  let s = NAME_PREFIX;
  for (let i = 0; i < 16; i++) s += NAME_ALPHABET[bytes[i]! & 31];
  return s;
}

/** Throws TypeError/RangeError unless `name` can name a segment. */
export function validateName(name: unknown, argName = "name"): string {
  if (typeof name !== "string") throw invalidArgType(argName, "of type string", name);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw outOfRange(`${argName}.length`, `>= 1 and <= ${MAX_NAME_LENGTH}`, name.length);
  }
  if (!NAME_RE.test(name)) {
    throw invalidArgValue(argName, "may contain only letters, digits, '.', '_' and '-', and not start with '.'", name);
  }
  return name;
}

export interface SegmentCreateOptions {
  /** Bytes in the data region (after the one-page header). */
  size: number;
  /** Name to create; must not exist. Default: a random "smsh-..." name. */
  name?: string;
  /**
   * Fill the page tables when mapping (MAP_POPULATE), so no access faults
   * later; worth it for memory that is touched repeatedly. Default false.
   */
  prefault?: boolean;
}

export interface SegmentAttachOptions {
  /** As SegmentCreateOptions.prefault. */
  prefault?: boolean;
}

/** @internal how lib/ creates ring segments; not part of the public API. */
export interface SegmentInternalOptions {
  kind: number;
  capacity: number;
}

export class Segment {
  /** @internal */
  readonly handle: SegmentHandle;
  /** The segment's name; the object is "/<name>" (/dev/shm/<name> on Linux). */
  readonly name: string;
  /** Bytes in the data region, as requested at create. */
  readonly size: number;
  /** Bytes mapped: header page + data region; `buffer.byteLength` while open. */
  readonly mappedSize: number;
  /** Offset of the data region in `buffer`. */
  readonly dataOffset = HEADER_SIZE;
  /** Whether this process created the segment (and unlinks it on close). */
  readonly owner: boolean;
  /** Ring capacity in bytes for ring segments, 0 for plain ones. */
  readonly capacity: number;
  /** @internal hex of the header's random token */
  readonly token: string;
  #buffer: ArrayBuffer | null = null;

  private constructor(handle: SegmentHandle) {
    this.handle = handle;
    const info = handle.info();
    this.name = info.name;
    this.size = info.dataSize;
    this.mappedSize = info.size;
    this.owner = info.owner;
    this.capacity = info.capacity;
    this.token = info.token;
    if (this.owner) installCleanup();
  }

  /**
   * Creates a new segment (O_CREAT|O_EXCL, mode 0600) and reserves its memory,
   * so a full /dev/shm fails here with ENOSPC instead of a SIGBUS later.
   * Errors: EEXIST if the name is taken, ENOSPC, EACCES, EMFILE.
   */
  static create(options: SegmentCreateOptions, internal?: SegmentInternalOptions): Segment {
    if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
    const size = checkInteger("options.size", options.size, 1, MAX_SEGMENT_SIZE - HEADER_SIZE);
    const name = options.name === undefined ? randomName() : validateName(options.name, "options.name");
    const kind = internal?.kind ?? KIND_PLAIN;
    const capacity = internal?.capacity ?? 0;
    return new Segment(binding.SegmentHandle.create(name, size, kind, capacity, options.prefault === true));
  }

  /**
   * Maps an existing segment by name after validating its header against the
   * object's real size. Errors: ENOENT, EACCES, ECORRUPT (foreign, garbage or
   * truncated), EVERSION (another layout version), EAGAIN (still being created).
   */
  static attach(name: string, options?: SegmentAttachOptions): Segment {
    return new Segment(binding.SegmentHandle.attach(validateName(name), options?.prefault === true));
  }

  /**
   * The whole mapping (header page + data region) as an ArrayBuffer, no copy.
   * After close() it is detached: byteLength 0, views over it empty.
   * Throws ECLOSED after close().
   */
  get buffer(): ArrayBuffer {
    // handle.buffer() throws ECLOSED once closed; #buffer is reset by close().
    if (this.#buffer === null) this.#buffer = this.handle.buffer();
    return this.#buffer;
  }

  /** A Uint8Array over the data region. */
  get data(): Uint8Array {
    return new Uint8Array(this.buffer, this.dataOffset, this.size);
  }

  get closed(): boolean {
    return this.handle.closed();
  }

  /**
   * Unmaps the segment and detaches its buffer; the owner also unlinks the
   * name (attachers that still have it mapped keep working). Safe to call twice.
   */
  close(): void {
    this.handle.close();
    this.#buffer = null;
  }

  /**
   * Removes the name now, so nobody else can attach; the mapping stays usable
   * until close(). Only removes the name if it still refers to this segment.
   */
  unlink(): void {
    this.handle.unlink();
  }

  /** Whether close() unlinks the name (default: true for the owner, false otherwise). */
  set unlinkOnClose(on: boolean) {
    this.handle.setUnlinkOnClose(Boolean(on));
    if (on) installCleanup();
  }
}
