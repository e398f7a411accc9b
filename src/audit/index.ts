/**
 * Vigil's audit trail, for library users: the producer client, the stores, verification and the
 * record helpers. `vigil serve` runs the service (component.ts); `vigil audit` is its CLI.
 */
export { createAuditClient, sendAuditEvent, type AuditClient, type AuditClientOptions, type AuditClientStats } from './client.ts'
export { normaliseEvents, payloadEvents, subjectHash, verbosityPresets, allowedTypes, type AuditRecord } from './record.ts'
export { canonicalize } from './canonical.ts'
export { linkHash, merkleRoot, recomputeHash, genesisHash, type ChainLink, type FileManifest } from './integrity.ts'
export { createLocalStore } from './local-store.ts'
export { createS3Store } from './s3-store.ts'
export { verifyStore, type VerifyReport, type Finding } from './verify.ts'
export { queryStore, type QueryResult } from './query.ts'
export { loadSigningKey, checkpointSignatureValid, type SignedCheckpoint } from './checkpoint.ts'
export { appendAuditEvents, type AuditTopic } from './append.ts'
