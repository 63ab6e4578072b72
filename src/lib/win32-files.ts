// The two things the atomic publisher does differently on Windows, through kernel32/advapi32
// (bun:ffi), behind the same calls as POSIX:
//
// - Claiming a name. POSIX links the fsynced temporary to the name (link(2) fails if it
//   exists) and fsyncs the directory. Windows cannot fsync a directory: FlushFileBuffers needs a
//   handle with GENERIC_WRITE, and a directory handle is not one (ERROR_ACCESS_DENIED, which
//   Bun reports as EPERM; Microsoft's FlushFileBuffers documentation). So the temporary is moved
//   with MoveFileExW(MOVEFILE_WRITE_THROUGH) and without MOVEFILE_REPLACE_EXISTING: the move
//   fails with ERROR_ALREADY_EXISTS instead of replacing, and does not return until it is on
//   disk. This works on NTFS, FAT32, exFAT and SMB shares alike, none of which need hard links.
// - Private files. Mode 0600 means nothing on Windows (only the read-only attribute is set from
//   it), so a key-bearing file gets a protected DACL with one entry: full control for the
//   current user. Inherited entries (Users, Authenticated Users) are removed. The DACL is read
//   back and checked, and anything else is reported (FAT/exFAT have no ACLs; Wine 8 maps them
//   to Unix mode bits, so the check fails there and says so).
import { dlopen, FFIType, ptr, read } from "bun:ffi";
import { resolve } from "node:path";

const { i32, u32, ptr: pointer, u64 } = FFIType;

const KERNEL32 = {
  MoveFileExW: { args: [pointer, pointer, u32], returns: i32 },
  GetLastError: { args: [], returns: u32 },
  GetCurrentProcess: { args: [], returns: u64 },
  CloseHandle: { args: [u64], returns: i32 },
  LocalFree: { args: [u64], returns: u64 },
} as const;

const ADVAPI32 = {
  OpenProcessToken: { args: [u64, u32, pointer], returns: i32 },
  GetTokenInformation: { args: [u64, u32, pointer, u32, pointer], returns: i32 },
  GetLengthSid: { args: [u64], returns: u32 },
  EqualSid: { args: [u64, u64], returns: i32 },
  InitializeAcl: { args: [pointer, u32, u32], returns: i32 },
  AddAccessAllowedAceEx: { args: [pointer, u32, u32, u32, u64], returns: i32 },
  SetNamedSecurityInfoW: { args: [pointer, u32, u32, u64, u64, pointer, u64], returns: u32 },
  GetNamedSecurityInfoW: { args: [pointer, u32, u32, u64, u64, pointer, u64, pointer], returns: u32 },
  GetAclInformation: { args: [u64, pointer, u32, u32], returns: i32 },
  GetAce: { args: [u64, u32, pointer], returns: i32 },
  LookupAccountSidW: { args: [u64, u64, pointer, pointer, pointer, pointer, pointer], returns: i32 },
} as const;

let kernel32: ReturnType<typeof dlopen<typeof KERNEL32>>["symbols"] | undefined;
let advapi32: ReturnType<typeof dlopen<typeof ADVAPI32>>["symbols"] | undefined;
const k32 = () => (kernel32 ??= dlopen("kernel32.dll", KERNEL32).symbols);
const adv = () => (advapi32 ??= dlopen("advapi32.dll", ADVAPI32).symbols);

const MOVEFILE_REPLACE_EXISTING = 0x1;
const MOVEFILE_WRITE_THROUGH = 0x8;

/** Win32 error codes as the errno names the rest of swtool (and Bun) use. */
const ERRNO: Record<number, string> = {
  2: "ENOENT", // ERROR_FILE_NOT_FOUND
  3: "ENOENT", // ERROR_PATH_NOT_FOUND
  5: "EPERM", // ERROR_ACCESS_DENIED
  17: "EXDEV", // ERROR_NOT_SAME_DEVICE
  19: "EROFS", // ERROR_WRITE_PROTECT
  32: "EBUSY", // ERROR_SHARING_VIOLATION
  39: "ENOSPC", // ERROR_HANDLE_DISK_FULL
  80: "EEXIST", // ERROR_FILE_EXISTS
  112: "ENOSPC", // ERROR_DISK_FULL
  183: "EEXIST", // ERROR_ALREADY_EXISTS
};

function win32Error(call: string, error: number, path: string): NodeJS.ErrnoException {
  const code = ERRNO[error] ?? "EIO";
  return Object.assign(new Error(`${code}: ${call} failed (Windows error ${error}), '${path}'`), { code, errno: error, syscall: call, path });
}

const wide = (s: string) => Buffer.from(`${s}\0`, "utf16le");

function move(from: string, to: string, flags: number): void {
  if (!k32().MoveFileExW(wide(resolve(from)), wide(resolve(to)), flags)) throw win32Error("MoveFileExW", k32().GetLastError(), to);
}

/** Moves `from` to `to` durably; throws with code EEXIST (and moves nothing) if `to` exists. */
export function moveNoReplace(from: string, to: string): void {
  move(from, to, MOVEFILE_WRITE_THROUGH);
}

/** Moves `from` over `to` durably (the explicit-output `replace` case). */
export function moveReplace(from: string, to: string): void {
  move(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH);
}

// ---- Private files ----

const TOKEN_QUERY = 0x0008;
const TOKEN_USER = 1;
const ACL_REVISION = 2;
const FILE_ALL_ACCESS = 0x1f01ff;
const SE_FILE_OBJECT = 1;
const DACL_SECURITY_INFORMATION = 0x4;
const PROTECTED_DACL_SECURITY_INFORMATION = 0x80000000;
const ACL_SIZE_INFORMATION = 2;
const ACCESS_ALLOWED_ACE_TYPE = 0;

interface CurrentUser {
  /** The TOKEN_USER buffer; the SID lives inside it. */
  buffer: Uint8Array;
  sid: number;
  name: string;
}

let currentUser: CurrentUser | undefined;

function user(): CurrentUser {
  if (currentUser) return currentUser;
  const token = new BigUint64Array(1);
  if (!adv().OpenProcessToken(k32().GetCurrentProcess(), TOKEN_QUERY, token)) throw win32Error("OpenProcessToken", k32().GetLastError(), "the current process");
  try {
    const buffer = new Uint8Array(256);
    const length = new Uint32Array(1);
    if (!adv().GetTokenInformation(token[0]!, TOKEN_USER, buffer, buffer.length, length)) throw win32Error("GetTokenInformation", k32().GetLastError(), "the current process");
    const sid = read.ptr(ptr(buffer), 0);
    currentUser = { buffer, sid, name: accountName(sid) };
    return currentUser;
  } finally {
    k32().CloseHandle(token[0]!);
  }
}

/** DOMAIN\user for a SID (for messages). */
function accountName(sid: number): string {
  const name = new Uint16Array(256);
  const domain = new Uint16Array(256);
  const nameLength = new Uint32Array([name.length]);
  const domainLength = new Uint32Array([domain.length]);
  const use = new Uint32Array(1);
  if (!adv().LookupAccountSidW(0n, BigInt(sid), name, nameLength, domain, domainLength, use)) return "the current user";
  const text = (a: Uint16Array, n: number) => Buffer.from(a.buffer, 0, n * 2).toString("utf16le");
  const d = text(domain, domainLength[0]!);
  return d ? `${d}\\${text(name, nameLength[0]!)}` : text(name, nameLength[0]!);
}

/** Who a private file is restricted to, for output and messages ("VM\\root"). */
export function privateOwnerName(): string {
  return user().name;
}

/**
 * Gives `path` a protected DACL with one entry, full control for the current user, then reads it
 * back. Returns undefined when the file has exactly that, otherwise what it has instead: FAT and
 * exFAT keep no access lists, and Wine maps them to Unix mode bits, so there the caller must say
 * what protection the file really got.
 */
export function restrictToCurrentUser(path: string): string | undefined {
  const { sid } = user();
  const absolute = wide(resolve(path));
  const acl = new Uint8Array(8 + 8 + adv().GetLengthSid(BigInt(sid)) + 8);
  if (!adv().InitializeAcl(acl, acl.length, ACL_REVISION)) return `cannot build an access list (Windows error ${k32().GetLastError()})`;
  if (!adv().AddAccessAllowedAceEx(acl, ACL_REVISION, 0, FILE_ALL_ACCESS, BigInt(sid))) return `cannot build an access list (Windows error ${k32().GetLastError()})`;
  const set = adv().SetNamedSecurityInfoW(absolute, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, 0n, 0n, acl, 0n);
  if (set !== 0) return `its file system refused an access list (Windows error ${set})`;
  return accessProblem(path);
}

/**
 * Reads `path`'s DACL back: undefined when only the current user has access, otherwise what the
 * file has instead (for output saying what a key file really got, not what was asked for).
 */
export function accessProblem(path: string): string | undefined {
  const problem = checkOnlyCurrentUser(wide(resolve(path)), user().sid);
  return problem && `its access list ${problem}`;
}

/** Reads the DACL back: undefined when it has exactly one entry, allowing the current user everything. */
function checkOnlyCurrentUser(absolute: Buffer, sid: number): string | undefined {
  const dacl = new BigUint64Array(1);
  const descriptor = new BigUint64Array(1);
  const got = adv().GetNamedSecurityInfoW(absolute, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, 0n, 0n, dacl, 0n, descriptor);
  if (got !== 0) return `cannot be read back (Windows error ${got})`;
  try {
    if (dacl[0] === 0n) return "is empty (everyone has access)";
    // ACL_SIZE_INFORMATION: AceCount, AclBytesInUse, AclBytesFree.
    const size = new Uint32Array(3);
    if (!adv().GetAclInformation(dacl[0]!, size, size.byteLength, ACL_SIZE_INFORMATION)) return "cannot be read back";
    if (size[0] !== 1) return `has ${size[0]} entries instead of one`;
    const ace = new BigUint64Array(1);
    if (!adv().GetAce(dacl[0]!, 0, ace)) return "cannot be read back";
    // ACCESS_ALLOWED_ACE: AceType (1), AceFlags (1), AceSize (2), Mask (4), SidStart.
    const type = read.u8(Number(ace[0]!), 0);
    const mask = read.u32(Number(ace[0]!), 4);
    if (type !== ACCESS_ALLOWED_ACE_TYPE || (mask & FILE_ALL_ACCESS) !== FILE_ALL_ACCESS) return "does not give the current user full control";
    if (!adv().EqualSid(ace[0]! + 8n, BigInt(sid))) return "names another account";
    return undefined;
  } finally {
    k32().LocalFree(descriptor[0]!);
  }
}
