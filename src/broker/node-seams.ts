/**
 * What a broker node is built on besides its own code: the Raft transport and the database
 * writer. A node takes them through its options (NodeOptions.seams), so that tests can run
 * several nodes in one process (an InMemoryNetwork's transports, InProcessWriter) while every
 * real node runs on TCP and the writer thread, which is the default.
 */
import {DatabaseWriter} from '../storage/database-writer.js'
import type {StoreWriter} from '../storage/store-writer.js'
import type {WriterOptions} from '../storage/writer-options.js'
import type {PeerTransport} from '../transport/peer-transport.js'
import {RaftTransport, type TransportOptions} from '../transport/raft-transport.js'

export interface NodeSeams {
  transport(options: TransportOptions): PeerTransport
  openWriter(options: WriterOptions): Promise<StoreWriter>
}

/** TCP between processes, the node database written by its writer thread. */
export const REAL_SEAMS: NodeSeams = {
  transport: (options) => new RaftTransport(options),
  openWriter: (options) => DatabaseWriter.open(options),
}
