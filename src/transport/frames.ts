/**
 * Length-prefixed frames on the Raft link: u32 little-endian payload length, then the
 * payload, whose first byte is its kind. A frame over the limit means a broken or hostile
 * peer: the connection is dropped rather than buffering it.
 */

export const FRAME_KIND = {
  /** The dialer's answer to a challenge: who is calling, and proof that it knows the secret. */
  hello: 1,
  /** One or more encoded Raft messages. */
  raft: 2,
  /** A publish a follower forwards to the leader. */
  forward: 3,
  /** The leader's answer to a forwarded publish. */
  forwardResult: 4,
  /** First frame on an accepted connection: a fresh nonce the dialer's hello must cover. */
  challenge: 5,
  /** The accepting side's proof that it knows the secret too, covering both nonces. */
  welcome: 6,
  /** The snapshot stream (snapshot-frames.ts): the leader's begin, plan, chunks and end, the follower's have and acks. */
  snapshotBegin: 7,
  snapshotChunk: 8,
  snapshotEnd: 9,
  snapshotAck: 10,
  snapshotHave: 11,
  snapshotPlan: 12,
} as const

export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND]

export const MAX_FRAME_BYTES = 64 * 1024 * 1024

/** The u32 length and the kind byte before each payload. */
export const FRAME_HEADER_BYTES = 5

export function frame(kind: FrameKind, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length)
  out.writeUInt32LE(payload.length + 1, 0)
  out.writeUInt8(kind, 4)
  out.set(payload, 5)
  return out
}

export class FrameTooLargeError extends Error {}

/**
 * Reassembles frames from stream chunks. The chunks of an incomplete frame are kept as they
 * came and joined once, when the last one arrives: a large frame in many chunks costs one
 * copy, not one per chunk.
 */
export class FrameReader {
  private chunks: Buffer[] = []
  private buffered = 0
  /** Bytes (prefix included) of the frame being gathered; 0 while its prefix is incomplete. */
  private needed = 0

  /** The limit may be raised once the peer has authenticated (see RaftTransport). */
  constructor(public maxFrameBytes = MAX_FRAME_BYTES) {}

  /** Calls `emit(kind, payload)` for every complete frame; throws FrameTooLargeError. */
  push(chunk: Buffer, emit: (kind: number, payload: Buffer) => void): void {
    if (this.buffered === 0) {
      this.scan(chunk, emit)
      return
    }
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.needed === 0 ? this.buffered < 4 : this.buffered < this.needed) return
    const data = Buffer.concat(this.chunks, this.buffered)
    this.chunks = []
    this.buffered = 0
    this.needed = 0
    this.scan(data, emit)
  }

  /** Emits the complete frames at the start of `data` and keeps the rest. */
  private scan(data: Buffer, emit: (kind: number, payload: Buffer) => void): void {
    let at = 0
    while (data.length - at >= 4) {
      const length = this.checkedLength(data.readUInt32LE(at))
      if (data.length - at - 4 < length) {
        this.needed = 4 + length
        break
      }
      emit(data[at + 4], data.subarray(at + 5, at + 4 + length))
      at += 4 + length
    }
    if (at < data.length) {
      this.chunks = [data.subarray(at)]
      this.buffered = data.length - at
    }
  }

  private checkedLength(length: number): number {
    if (length === 0 || length > this.maxFrameBytes) {
      throw new FrameTooLargeError(`frame of ${length} bytes is outside 1..${this.maxFrameBytes}`)
    }
    return length
  }
}
