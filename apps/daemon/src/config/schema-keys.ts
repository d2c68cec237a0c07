import type { PathSegment } from './problems.js';
import { configSchema } from './schema.js';

// Walks the zod schema along a path to list the keys an object there accepts, so an unknown
// key can be answered with "did you mean ...". Uses zod 4's public `def` descriptions.

interface SchemaDef {
  type: string;
  shape?: Record<string, { def: SchemaDef }>;
  innerType?: { def: SchemaDef };
  in?: { def: SchemaDef };
  valueType?: { def: SchemaDef };
  options?: { def: SchemaDef }[];
}

const WRAPPERS = new Set(['optional', 'default', 'nullable', 'readonly', 'prefault', 'catch']);

function unwrap(def: SchemaDef): SchemaDef {
  let current = def;
  for (;;) {
    if (WRAPPERS.has(current.type) && current.innerType) current = current.innerType.def;
    else if (current.type === 'pipe' && current.in) current = current.in.def;
    else return current;
  }
}

/** The object option of a union such as `strategy: name | { name, options }`. */
function asObject(def: SchemaDef): SchemaDef | undefined {
  const plain = unwrap(def);
  if (plain.type === 'object') return plain;
  if (plain.type === 'union') {
    return plain.options
      ?.map((option) => unwrap(option.def))
      .find((option) => option.type === 'object');
  }
  return undefined;
}

export function allowedKeysAt(path: readonly PathSegment[]): string[] {
  let def: SchemaDef | undefined = unwrap((configSchema as unknown as { def: SchemaDef }).def);
  for (const segment of path) {
    if (!def) return [];
    if (def.type === 'record' && def.valueType) {
      def = unwrap(def.valueType.def);
      continue;
    }
    const object = asObject(def);
    const next = object?.shape?.[String(segment)];
    def = next ? unwrap(next.def) : undefined;
  }
  const object = def && asObject(def);
  return object?.shape ? Object.keys(object.shape).filter((key) => key !== '$schema') : [];
}
