// The public face of the Raft core. Everything a driver, a transport or a test needs is
// re-exported from here; the modules behind it are free to change shape.
export {Raft} from './raft.js'
export {MemoryStorage, SnapshotOutOfDateError} from './memory-storage.js'
export {
  applyConfChange,
  ConfChangeRefusedError,
  copyMembership,
  decodeMembership,
  encodeMembership,
  formatMembership,
  isMember,
  isVoter,
  membershipProblem,
  sameMembership,
} from './membership.js'
export type {ConfChange, Membership} from './membership.js'
export {CompactedError, LostLogError, SnapshotTemporarilyUnavailableError, UnavailableError} from './types.js'
export type {
  Entry,
  EntryType,
  HardState,
  Message,
  MessageType,
  NodeId,
  ProgressStatus,
  Ready,
  Role,
  Snapshot,
  SnapshotMeta,
  SoftState,
  Status,
  Storage,
} from './types.js'
export type {PlantedBugs, RaftConfig} from './config.js'
