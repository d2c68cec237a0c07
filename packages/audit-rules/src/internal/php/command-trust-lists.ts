// The names the command analysis judges by: functions, static calls, classes and casts whose
// values are shell-safe or come from the code itself, and the roots of request input. They are
// data, kept apart from the logic that reads them (command-provenance.ts, command-opaque.ts) so
// that adding a name is a one-line change that touches no analysis.

/** A variable or property named like an identifier or a count: a value the code made. */
export const TRUSTED_NAME = /([Uu]uid|_id|Id|_ids|Ids|^id|[Dd]elimiter|_count|Count)$/;
/** Functions whose result the user does not choose (hashes, ids, paths, counts); not escaped. */
export const TRUSTED_CALLS = new Set([
  'md5',
  'sha1',
  'hash',
  'crc32',
  'uniqid',
  'random_bytes',
  'bin2hex',
  'random_int',
  'time',
  'config',
  'storage_path',
  'base_path',
  'now',
  'count',
  'strlen',
  'basename',
]);
/** Static calls (`Class::method`) that generate their value: uuids, random strings, now. */
export const TRUSTED_STATIC =
  /^(Str::(uuid|random|ulid|orderedUuid)|Hash::make|Carbon::now|Uuid::.*)$/i;
/** Classes whose `new` instance is a generated identifier, never user input. */
export const GENERATED_ID = /(^|\\)(Cuid2?|Ulid|Uuid\w*|ObjectId)$/i;
/** Methods that convert a value and keep its provenance (`Str::uuid()->toString()`). */
export const CONVERSIONS = new Set([
  'tostring',
  '__tostring',
  'tobase32',
  'tobase58',
  'torfc4122',
  'tohex',
]);
/** Casts whose result is a number or boolean: safe in any shell context. */
export const CAST_SAFE = new Set(['int', 'float', 'bool', 'boolean', 'integer', 'double']);
/** Functions whose result is safe in a shell: numeric conversions and escapers. */
export const SAFE_CALLS = new Set([
  'intval',
  'floatval',
  'boolval',
  'escapeshellarg',
  'base64_encode',
]);
/** Names of request input: `request()`, `$request` and the PHP superglobals (lower case). */
export const UNTRUSTED_ROOTS = new Set([
  'request',
  '_get',
  '_post',
  '_request',
  '_cookie',
  '_files',
  '_server',
]);
