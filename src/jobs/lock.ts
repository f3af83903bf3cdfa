/**
 * One job at a time per index directory. The lock itself lives in
 * store/dir-lock.ts, below the index layer, so that an index's `save()`
 * takes the same lock as a job (index must not import jobs).
 */
export { acquireLock, kLockFile, lockHolderAlive, processAlive, processStartMs, readLock, type HeldLock, type LockInfo } from '../store/dir-lock.js';
