// Segment: a named POSIX shared-memory object holding a layout-v1 header
// page and a data region, mapped into this process and exposed as an
// ArrayBuffer with no copy. The creator owns it and unlinks it on close;
// attachers map it by name (from another process or a worker thread).
import { constants as bufferConstants } from "node:buffer";
import { randomBytes } from "node:crypto";

import { installCleanup } from "./cleanup.js";
import { checkInteger, invalidArgType, invalidArgValue, outOfRange, shmError } from "./errors.js";
import { HEADER_SIZE, KIND_PLAIN, MAX_NAME_LENGTH, MAX_SEGMENT_SIZE } from "./layout.js";
import { native, type SegmentHandle } from "./native.js";

/**
 * Largest data region `Segment.create` accepts: the whole mapping (header
 * page + data) is exposed as one ArrayBuffer, so it must fit in this
 * runtime's largest one (buffer.constants.MAX_LENGTH: 2^32 bytes on Node 20),
 * and within the layout's MAX_SEGMENT_SIZE.
 */
export const MAX_DATA_SIZE = Math.min(MAX_SEGMENT_SIZE, bufferConstants.MAX_LENGTH) - HEADER_SIZE;
const MAX_DATA_SIZE_WHY =
  MAX_SEGMENT_SIZE <= bufferConstants.MAX_LENGTH
    ? `the layout's largest segment, ${MAX_SEGMENT_SIZE} bytes, minus the ${HEADER_SIZE}-byte header`
    : `buffer.constants.MAX_LENGTH, ${bufferConstants.MAX_LENGTH}, minus the ${HEADER_SIZE}-byte header: ` +
      "the whole mapping must fit in one ArrayBuffer of this runtime";

/** Prefix of generated names; `ls /dev/shm/smsh-*` lists this package's segments. */
export const NAME_PREFIX = "smsh-";

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** glibc keeps POSIX named semaphores in /dev/shm as "sem.<name>". */
const SEMAPHORE_RE = /^sem\./i;
/** Windows device names, also with an extension ("CON.txt"): unusable as file names there. */
const WINDOWS_DEVICE_RE = /^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])(?:\.|$)/i;
const NAME_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567";

/** A fresh random segment name: "smsh-" and 16 base-32 characters (80 bits). */
export function randomName(): string {
  const bytes = randomBytes(16);
  let s = NAME_PREFIX;
  for (let i = 0; i < 16; i++) s += NAME_ALPHABET[bytes[i]! & 31];
  return s;
}

/**
 * Throws TypeError/RangeError unless `name` can name a segment: 1-30
 * characters of [A-Za-z0-9._-] starting with a letter or digit, not
 * "sem.*" (case-insensitive) and not a Windows device name (docs/PROTOCOL.md).
 */
export function validateName(name: unknown, argName = "name"): string {
  if (typeof name !== "string") throw invalidArgType(argName, "of type string", name);
  if (name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw outOfRange(`${argName}.length`, `>= 1 and <= ${MAX_NAME_LENGTH}`, name.length);
  }
  if (!NAME_RE.test(name)) {
    throw invalidArgValue(argName, "may contain only letters, digits, '.', '_' and '-', and must start with a letter or digit", name);
  }
  if (SEMAPHORE_RE.test(name)) {
    throw invalidArgValue(argName, 'must not start with "sem." (the POSIX semaphores\' namespace)', name);
  }
  if (WINDOWS_DEVICE_RE.test(name)) {
    throw invalidArgValue(argName, "must not be a Windows device name (CON, PRN, AUX, NUL, COM0-9, LPT0-9, with or without an extension)", name);
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

/**
 * The handles of segments whose name close() removes, held until then: the
 * name is how other processes find the segment, so it must not go when the
 * garbage collector takes an owner nobody references (the handle's finalizer
 * would unlink it). A forgotten segment stays until close() or exit, as a
 * forgotten server socket keeps listening.
 */
const naming = new Set<SegmentHandle>();

export class Segment {
  /** @internal the binding's handle (lib/ only) */
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
  /**
   * The object's owner uid (st_uid, from fstat at create/attach). null on
   * Windows, where named objects are per session and guarded by DACLs.
   */
  readonly ownerUid: number | null;
  /** The object's permission bits (st_mode & 0o7777, at create/attach). null on Windows. */
  readonly mode: number | null;
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
    this.ownerUid = info.ownerUid;
    this.mode = info.mode;
    if (this.owner) {
      installCleanup();
      naming.add(handle);
    }
  }

  /**
   * Creates a new segment (O_CREAT|O_EXCL, mode 0600) and reserves its memory,
   * so a full /dev/shm fails here with ENOSPC instead of a SIGBUS later.
   * Errors: EEXIST if the name is taken, ENOSPC, EACCES, EMFILE; ENOTSUP
   * where this platform has no native binary (see addonPath).
   */
  static create(options: SegmentCreateOptions): Segment;
  /** @internal ring segments (lib/channel) */
  static create(options: SegmentCreateOptions, internal: SegmentInternalOptions | undefined): Segment;
  static create(options: SegmentCreateOptions, internal?: SegmentInternalOptions): Segment {
    if (options === null || typeof options !== "object") throw invalidArgType("options", "an object", options);
    const size = checkInteger("options.size", options.size, 1, MAX_DATA_SIZE, MAX_DATA_SIZE_WHY);
    const name = options.name === undefined ? randomName() : validateName(options.name, "options.name");
    const kind = internal?.kind ?? KIND_PLAIN;
    const capacity = internal?.capacity ?? 0;
    return new Segment(native().SegmentHandle.create(name, size, kind, capacity, options.prefault === true));
  }

  /**
   * Maps an existing segment by name after validating its header against the
   * object's real size. Errors: ENOENT, EACCES, ECORRUPT (foreign, garbage or
   * truncated), EVERSION (another layout version), EAGAIN (still being created);
   * ENOTSUP where this platform has no native binary.
   */
  static attach(name: string, options?: SegmentAttachOptions): Segment;
  /** @internal `kind`: refuse a segment of another kind before mapping it (lib/channel) */
  static attach(name: string, options: SegmentAttachOptions | undefined, internal: { kind: number } | undefined): Segment;
  static attach(name: string, options?: SegmentAttachOptions, internal?: { kind: number }): Segment {
    return new Segment(native().SegmentHandle.attach(validateName(name), options?.prefault === true, internal?.kind));
  }

  /**
   * The whole mapping (header page + data region) as an ArrayBuffer, no copy.
   * After close() it is detached: byteLength 0, views over it empty.
   * Throws ECLOSED after close(), and ENOTSUP for an attached segment larger
   * than this runtime's largest ArrayBuffer (buffer.constants.MAX_LENGTH).
   */
  get buffer(): ArrayBuffer {
    if (this.#buffer === null) {
      // handle.buffer() throws ECLOSED once closed; #buffer is reset by close().
      if (!this.closed && this.mappedSize > bufferConstants.MAX_LENGTH) {
        throw shmError(
          "ENOTSUP",
          `segment ${this.name} maps ${this.mappedSize} bytes, more than this runtime's largest ArrayBuffer ` +
            `(buffer.constants.MAX_LENGTH = ${bufferConstants.MAX_LENGTH})`,
        );
      }
      this.#buffer = this.handle.buffer();
    }
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
    // What waits on this segment ends first (a Waiter rejects its pending
    // wait with ECLOSED: the native close would silence it).
    for (const end of [...this.#dependents]) end();
    this.#dependents.clear();
    this.handle.close();
    naming.delete(this.handle);
    this.#buffer = null;
  }

  readonly #dependents = new Set<() => void>();

  /** @internal `end` runs at close(), before the segment is unmapped (a Waiter closing itself). */
  addDependent(end: () => void): void {
    this.#dependents.add(end);
  }

  /** @internal */
  removeDependent(end: () => void): void {
    this.#dependents.delete(end);
  }

  /** close(), for `using seg = Segment.create(...)`: the owner's name is gone at scope exit. */
  [Symbol.dispose](): void {
    this.close();
  }

  /**
   * Removes the name now, so nobody else can attach; the mapping stays usable
   * until close(). Only removes the name if it still refers to this segment.
   */
  unlink(): void {
    this.handle.unlink();
    naming.delete(this.handle);
  }

  /** Whether close() unlinks the name (default: true for the owner, false otherwise). */
  set unlinkOnClose(on: boolean) {
    this.handle.setUnlinkOnClose(Boolean(on));
    if (on && !this.closed) {
      installCleanup();
      naming.add(this.handle);
    } else naming.delete(this.handle);
  }
}
