// What both sides of a handshake do with rings (docs/PROTOCOL.md §4): who
// this side is, making its own ring, and proving it mapped the other side's
// by reading the nonce the other side wrote into its ring's header
// (`peer_nonce`: 16 random bytes never sent over a socket, never in a file
// name, unlike the token, which doorbell socket names show in
// /proc/net/unix: only a process that maps the segment can know them). Only
// those proofs decide transport "shm".
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { Channel } from "../channel/channel.js";
import type { ChannelReader } from "../channel/reader.js";
import type { ChannelWriter } from "../channel/writer.js";
import { OFFSETS, TOKEN_SIZE } from "../core/layout.js";
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

/**
 * This side's ring for the other side to read, with a fresh nonce in its
 * header (hex in `nonce`, kept to check the other side's proof), or null
 * (and why) if none can be made.
 */
export function makeRing(o: RingOptions): { tx: ChannelWriter | null; nonce: string; why: string } {
  if (!shmAvailable()) return { tx: null, nonce: "", why: "no native addon on this side" };
  try {
    const tx = Channel.create({ capacity: o.capacity ?? DEFAULT_PEER_CAPACITY, pool: o.pool });
    const nonce = randomBytes(TOKEN_SIZE);
    // Written before the message naming the ring is sent: the other side maps it after it got that message.
    nonceOf(tx.segment).set(nonce);
    return { tx, nonce: nonce.toString("hex"), why: "" };
  } catch (e) {
    return { tx: null, nonce: "", why: `this side could not create a ring: ${(e as Error).message}` };
  }
}

/** Attaches the other side's ring and reads its token (the proof), or says why not. */
export function attachRing(name: string | null, remote: Identity): { rx: ChannelReader | null; proof: string | null; why: string } {
  if (name === null) return { rx: null, proof: null, why: `${remote.name} offered no ring` };
  if (!shmAvailable()) return { rx: null, proof: null, why: "no native addon on this side" };
  try {
    const rx = Channel.attach(name);
    return { rx, proof: Buffer.from(nonceOf(rx.segment)).toString("hex"), why: "" };
  } catch (e) {
    const code = (e as { code?: string }).code;
    return { rx: null, proof: null, why: `could not map ${remote.name}'s ring ${name} (${code ?? (e as Error).message}): another host, user or /dev/shm` };
  }
}
