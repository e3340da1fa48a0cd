/**
 * Length-prefixed frames on the Raft link: u32 little-endian payload length, then the
 * payload, whose first byte is its kind. A frame over the limit means a broken or hostile
 * peer: the connection is dropped rather than buffering it.
 */

export const FRAME_KIND = {
  /** First frame on a connection: who is calling. */
  hello: 1,
  /** One or more encoded Raft messages. */
  raft: 2,
  /** A publish a follower forwards to the leader. */
  forward: 3,
  /** The leader's answer to a forwarded publish. */
  forwardResult: 4,
} as const

export type FrameKind = (typeof FRAME_KIND)[keyof typeof FRAME_KIND]

export const MAX_FRAME_BYTES = 64 * 1024 * 1024

export function frame(kind: FrameKind, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(5 + payload.length)
  out.writeUInt32LE(payload.length + 1, 0)
  out.writeUInt8(kind, 4)
  out.set(payload, 5)
  return out
}

export class FrameTooLargeError extends Error {}

/** Reassembles frames from stream chunks. */
export class FrameReader {
  private chunks: Buffer[] = []
  private buffered = 0

  constructor(private readonly maxFrameBytes = MAX_FRAME_BYTES) {}

  /** Calls `emit(kind, payload)` for every complete frame; throws FrameTooLargeError. */
  push(chunk: Buffer, emit: (kind: number, payload: Buffer) => void): void {
    this.chunks.push(chunk)
    this.buffered += chunk.length
    if (this.buffered < 4) return
    let data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered)
    let at = 0
    while (data.length - at >= 4) {
      const length = data.readUInt32LE(at)
      if (length === 0 || length > this.maxFrameBytes) {
        throw new FrameTooLargeError(`frame of ${length} bytes is outside 1..${this.maxFrameBytes}`)
      }
      if (data.length - at - 4 < length) break
      emit(data[at + 4], data.subarray(at + 5, at + 4 + length))
      at += 4 + length
    }
    data = data.subarray(at)
    this.chunks = data.length > 0 ? [data] : []
    this.buffered = data.length
  }
}
