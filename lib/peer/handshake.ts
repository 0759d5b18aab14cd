// What both sides of a handshake do with rings (docs/PROTOCOL.md §4): who
// this side is, making its own ring, and proving it mapped the other side's
// with the nonce the other side wrote into its ring's header (`peer_nonce`:
// 16 random bytes never sent over a socket, never in a file name, unlike the
// token, which doorbell socket names show in /proc/net/unix: only a process
// that maps the segment can know them). Only those proofs decide transport
// "shm".
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

import { Channel } from "../channel/channel.js";
import type { ChannelReader } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { OFFSETS, PEER_LABEL_SIZE, TOKEN_SIZE } from "../core/layout.js";
import { addonPath, native } from "../core/native.js";
import type { Segment } from "../core/segment.js";
import type { PoolOptions } from "../loan/pool.js";
import type { Identity } from "./protocol.js";

export interface RingOptions {
  /** Ring size in bytes of the channel this side writes (default 1 MiB). */
  capacity?: number;
  /** Its loan pool. */
  pool?: PoolOptions;
}

export const DEFAULT_PEER_CAPACITY = 1 << 20;

let bootId: string | undefined;
function hostId(): string {
  if (bootId === undefined) {
    try {
      bootId = readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim().slice(0, 64);
    } catch {
      bootId = "";
    }
  }
  return bootId;
}

export function localIdentity(name: string): Identity {
  let startTime = "0";
  try {
    startTime = String(native().selfStartTime);
  } catch {
    // no addon here: transport "zmq" only
  }
  return { name, pid: process.pid, uid: process.getuid?.() ?? 0, startTime, host: hostId() };
}

/** Whether this process can use shared memory at all (the native addon loads). */
export function shmAvailable(): boolean {
  if (addonPath === null) return false;
  try {
    native();
    return true;
  } catch {
    return false;
  }
}

const nonceOf = (seg: Segment): Uint8Array => new Uint8Array(seg.buffer, OFFSETS.peer_nonce, TOKEN_SIZE);

/** Writes `text` (cut to whole characters within the field) into the ring's peer_label, for `synaptic-shm ls`. */
export function labelRing(tx: ChannelWriter, text: string): void {
  const field = new Uint8Array(tx.segment.buffer, OFFSETS.peer_label, PEER_LABEL_SIZE);
  field.fill(0);
  new TextEncoder().encodeInto(text, field.subarray(0, PEER_LABEL_SIZE - 1));
}

/** Who computes a proof: a listener proves it mapped the connector's ring, a connector the listener's. */
export type Role = "listener" | "connector";

/**
 * The proof that a side mapped ring `proved` (docs/PROTOCOL.md §4.3): the
 * first 16 bytes of HMAC-SHA256 keyed with that ring's nonce over
 * "smsh-proof <role> <proved> <own>", in hex, `own` being the prover's own
 * ring. Never the nonce itself: a side that maps rings on request would
 * otherwise hand any ring's nonce to whoever names it. The role keeps a
 * listener's proofs from passing as a connector's and back; the ring names
 * bind it to this pair of rings.
 */
export function proofFor(nonce: Uint8Array, role: Role, proved: string, own: string | null): string {
  return createHmac("sha256", nonce).update(`smsh-proof ${role} ${proved} ${own ?? ""}`).digest().subarray(0, 16).toString("hex");
}

/** Whether `proof` (from the other side) is the proof of `ring`, made with `nonce`, by the other role. */
export function proofHolds(proof: string | null, nonce: Uint8Array, role: Role, ring: string, theirs: string | null): boolean {
  if (proof === null) return false;
  const want = Buffer.from(proofFor(nonce, role, ring, theirs), "hex");
  const got = Buffer.from(proof, "hex");
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * This side's ring for the other side to read, with a fresh nonce in its
 * header (kept to check the other side's proof), or null (and why) if none
 * can be made.
 */
export function makeRing(o: RingOptions): { tx: ChannelWriter | null; nonce: Uint8Array; why: string } {
  const none = new Uint8Array(0);
  if (!shmAvailable()) return { tx: null, nonce: none, why: "no native addon on this side" };
  try {
    const tx = Channel.create({ capacity: o.capacity ?? DEFAULT_PEER_CAPACITY, pool: o.pool });
    const nonce = randomBytes(TOKEN_SIZE);
    // Written before the message naming the ring is sent: the other side maps it after it got that message.
    nonceOf(tx.segment).set(nonce);
    return { tx, nonce, why: "" };
  } catch (e) {
    return { tx: null, nonce: none, why: `this side could not create a ring: ${(e as Error).message}` };
  }
}

/**
 * Why ring `name` must not be attached for `remote`, or "" (its header is
 * looked at first, without taking its reader's place): only a peer ring (a
 * nonce in its header), made by the process `remote` says it is, of the
 * uid it says, with no reader yet (and, the caller checks, not one of this
 * side's own rings). A HELLO or
 * WELCOME naming anything else (another application's channel, another
 * peer's ring) is not obeyed: attaching takes the reader's place, and
 * closing it would end that channel for its real reader.
 */
function refusal(name: string, remote: Identity): string {
  const info = native().SegmentHandle.inspect(name);
  if (info.invalid !== undefined) return `${name} is not a valid ring (${info.invalid})`;
  const h = new DataView(info.header);
  const nonce = new Uint8Array(info.header, OFFSETS.peer_nonce, TOKEN_SIZE);
  if (nonce.every((b) => b === 0)) return `${name} is not a peer ring (no nonce)`;
  const ownerPid = h.getUint32(OFFSETS.owner_pid, true);
  if (ownerPid !== remote.pid || h.getBigUint64(OFFSETS.owner_start_time, true).toString() !== remote.startTime) {
    return `${name} was not made by ${remote.name} (pid ${remote.pid})`;
  }
  if (info.uid !== remote.uid) return `${name} belongs to uid ${info.uid}, not ${remote.name}'s ${remote.uid}`;
  if (info.readerLocked) return `${name} has a reader already`;
  return "";
}

/**
 * Attaches the other side's ring and proves it (proofFor, as `role`, with
 * this side's ring `own`), or says why not.
 */
export function attachRing(name: string | null, remote: Identity, role: Role, own: string | null): { rx: ChannelReader | null; proof: string | null; why: string } {
  if (name === null) return { rx: null, proof: null, why: `${remote.name} offered no ring` };
  if (name === own) return { rx: null, proof: null, why: `not attached: ${name} is this side's own ring` };
  if (!shmAvailable()) return { rx: null, proof: null, why: "no native addon on this side" };
  try {
    const no = refusal(name, remote);
    if (no !== "") return { rx: null, proof: null, why: `not attached: ${no}` };
    const rx = Channel.attach(name);
    return { rx, proof: proofFor(nonceOf(rx.segment), role, name, own), why: "" };
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { rx: null, proof: null, why: `could not map ${remote.name}'s ring ${name} (${code ?? (e as Error).message}): another host, user or /dev/shm` };
  }
}
