import type { ProjectTree } from '../project.js';
import {
  findAll,
  isNode,
  literal,
  nameOf,
  type PhpNode,
  type PhpSyntaxError,
  parsePhpTolerant,
} from './ast.js';

export interface PhpProperty {
  name: string;
  /** Declared type as written (`string`, `?Server`, `App\Models\Server`), or null. */
  type: string | null;
  visibility: string;
  promoted: boolean;
  line: number;
  value: PhpNode | null;
}

export interface PhpClass {
  fqn: string;
  shortName: string;
  file: string;
  node: PhpNode;
  extends: string | null;
  implements: string[];
  traits: string[];
  /** Attribute names on the class, resolved (`Illuminate\Queue\Attributes\Tries`). */
  attributes: Map<string, PhpNode[]>;
  properties: PhpProperty[];
  methods: Map<string, PhpNode>;
  /** Constructor parameters (promoted or not). */
  constructorParams: PhpProperty[];
}

export interface PhpFile {
  path: string;
  text: string;
  ast: PhpNode;
  /** Resolves a class name as written in this file to its fully qualified name. */
  resolve(name: string, resolution?: string): string;
  classes: PhpClass[];
}

export interface PhpIndex {
  files: PhpFile[];
  classes: Map<string, PhpClass>;
  /**
   * Files that did not parse completely, with the parser's message. A file with `regions` parsed
   * in part: its tree outside those stretches was indexed like any other file.
   */
  parseErrors: { path: string; message: string; regions?: PhpSyntaxError[] }[];
  /** True when the class (or a parent) implements the interface (resolved names). */
  implementsInterface(fqn: string, iface: string): boolean;
  usesTrait(fqn: string, trait: string): boolean;
  /** P-QUEUED */
  isQueued(fqn: string): boolean;
  /** P-ENC */
  isEncrypted(fqn: string): boolean;
  /** A class extending Eloquent's Model (directly or through project classes). */
  isModel(fqn: string): boolean;
  file(path: string): PhpFile | undefined;
}

export const SHOULD_QUEUE = 'Illuminate\\Contracts\\Queue\\ShouldQueue';
export const SHOULD_BE_ENCRYPTED = 'Illuminate\\Contracts\\Queue\\ShouldBeEncrypted';
const MODEL_BASES = new Set([
  'Illuminate\\Database\\Eloquent\\Model',
  'Illuminate\\Foundation\\Auth\\User',
  'Illuminate\\Database\\Eloquent\\Relations\\Pivot',
  'Illuminate\\Database\\Eloquent\\Relations\\MorphPivot',
  'Illuminate\\Notifications\\DatabaseNotification',
  // Packages' models that applications extend (their own parent is Eloquent's Model).
  'Laravel\\Sanctum\\PersonalAccessToken',
  'Laravel\\Passport\\Token',
  'Laravel\\Passport\\Client',
]);

/** `line 362: syntax error, unexpected '??'` (the first stretch; the others by line). */
function partialParseMessage(errors: readonly PhpSyntaxError[]): string {
  const [first, ...rest] = errors;
  if (first === undefined) return 'parsed in part';
  const more = rest.length > 0 ? ` (also lines ${rest.map((e) => e.line).join(', ')})` : '';
  return `parsed in part, line ${first.line}: ${first.message}${more}`;
}

export function isPhpPath(path: string): boolean {
  return path.endsWith('.php') && !path.endsWith('.blade.php');
}

export async function indexPhp(
  tree: ProjectTree,
  /** Called after each PHP file, with how many files so far could not be parsed. */
  onFile?: (path: string, failed: number) => void,
): Promise<PhpIndex> {
  const files: PhpFile[] = [];
  const parseErrors: PhpIndex['parseErrors'] = [];
  for (const path of tree.files) {
    if (!isPhpPath(path)) continue;
    const text = await tree.read(path);
    if (text !== null) {
      try {
        const { ast, errors } = parsePhpTolerant(text, path);
        files.push(indexFile(path, text, ast));
        if (errors.length > 0)
          parseErrors.push({ path, message: partialParseMessage(errors), regions: errors });
      } catch (error) {
        const message = (error as Error).message.split('\n')[0] ?? 'parse error';
        parseErrors.push({ path, message });
      }
    }
    onFile?.(path, parseErrors.length);
  }
  const classes = new Map<string, PhpClass>();
  for (const file of files) for (const cls of file.classes) classes.set(cls.fqn, cls);
  const byPath = new Map(files.map((file) => [file.path, file]));

  const chain = (fqn: string): PhpClass[] => {
    const out: PhpClass[] = [];
    const seen = new Set<string>();
    let current = classes.get(fqn);
    while (current && !seen.has(current.fqn)) {
      seen.add(current.fqn);
      out.push(current);
      current = current.extends ? classes.get(current.extends) : undefined;
    }
    return out;
  };
  const implementsInterface = (fqn: string, iface: string): boolean =>
    chain(fqn).some((cls) => cls.implements.includes(iface) || cls.extends === iface);
  const usesTrait = (fqn: string, trait: string): boolean =>
    chain(fqn).some((cls) => cls.traits.includes(trait));
  return {
    files,
    classes,
    parseErrors,
    implementsInterface,
    usesTrait,
    isQueued: (fqn) => implementsInterface(fqn, SHOULD_QUEUE),
    isEncrypted: (fqn) =>
      implementsInterface(fqn, SHOULD_BE_ENCRYPTED) ||
      chain(fqn).some((cls) =>
        cls.properties.some(
          (prop) => prop.name === 'shouldBeEncrypted' && literal(prop.value) === 'true',
        ),
      ),
    isModel: (fqn) => {
      const all = chain(fqn);
      const last = all.at(-1);
      return (
        (last !== undefined && last.extends !== null && MODEL_BASES.has(last.extends)) ||
        (all.length === 0 && /^App\\Models\\/.test(fqn))
      );
    },
    file: (path) => byPath.get(path),
  };
}

function indexFile(path: string, text: string, ast: PhpNode): PhpFile {
  const classes: PhpClass[] = [];
  // Namespaces and `use` imports are per file (a file rarely has two namespaces; when it does,
  // the last one's imports apply, which is good enough for class resolution here).
  let namespace = '';
  const imports = new Map<string, string>();
  for (const ns of findAll(ast, 'namespace')) namespace = String(ns.name ?? '');
  for (const group of findAll(ast, 'usegroup')) {
    const prefix = group.name ? `${String(group.name)}\\` : '';
    for (const item of (group.items as PhpNode[]) ?? []) {
      const full = `${prefix}${String(item.name)}`.replace(/^\\/, '');
      const alias = nameOf(item.alias) ?? full.split('\\').at(-1) ?? full;
      imports.set(alias.toLowerCase(), full);
    }
  }
  const resolve = (name: string, resolution = 'uqn'): string => {
    if (resolution === 'fqn' || name.startsWith('\\')) return name.replace(/^\\/, '');
    const [head, ...rest] = name.split('\\');
    const imported = imports.get((head ?? '').toLowerCase());
    if (imported) return [imported, ...rest].join('\\');
    return namespace ? `${namespace}\\${name}` : name;
  };
  const resolveNode = (node: unknown): string | null => {
    if (!isNode(node)) return null;
    const raw = nameOf(node);
    return raw === null ? null : resolve(raw, String(node.resolution ?? 'uqn'));
  };

  // Traits too: `$this->method()` inside a trait resolves to the trait's own methods.
  for (const node of findAll(ast, ['class', 'trait'])) {
    const short = nameOf(node.name);
    if (!short) continue;
    const cls: PhpClass = {
      fqn: namespace ? `${namespace}\\${short}` : short,
      shortName: short,
      file: path,
      node,
      extends: resolveNode(node.extends),
      implements: ((node.implements as PhpNode[] | null) ?? [])
        .map(resolveNode)
        .filter((n): n is string => n !== null),
      traits: [],
      attributes: new Map(),
      properties: [],
      methods: new Map(),
      constructorParams: [],
    };
    for (const group of (node.attrGroups as PhpNode[] | undefined) ?? []) {
      for (const attr of (group.attrs as PhpNode[]) ?? []) {
        const name = resolve(String(attr.name));
        cls.attributes.set(name, (attr.args as PhpNode[]) ?? []);
      }
    }
    for (const member of (node.body as PhpNode[]) ?? []) {
      if (member.kind === 'traituse') {
        for (const trait of (member.traits as PhpNode[]) ?? []) {
          const name = resolveNode(trait);
          if (name) cls.traits.push(name);
        }
      } else if (member.kind === 'propertystatement') {
        for (const prop of (member.properties as PhpNode[]) ?? []) {
          cls.properties.push({
            name: nameOf(prop.name) ?? '',
            type: typeName(prop.type, resolve),
            visibility: String(member.visibility || 'public'),
            promoted: false,
            line: prop.loc?.start.line ?? 1,
            value: (prop.value as PhpNode | null) ?? null,
          });
        }
      } else if (member.kind === 'method') {
        const name = (nameOf(member.name) ?? '').toLowerCase();
        cls.methods.set(name, member);
        if (name === '__construct') {
          for (const param of (member.arguments as PhpNode[]) ?? []) {
            const flags = Number(param.flags ?? 0);
            const prop: PhpProperty = {
              name: nameOf(param.name) ?? '',
              type: typeName(param.type, resolve),
              visibility: flags & 4 ? 'private' : flags & 2 ? 'protected' : 'public',
              promoted: flags !== 0 || param.readonly === true,
              line: param.loc?.start.line ?? 1,
              value: null,
            };
            cls.constructorParams.push(prop);
            if (prop.promoted) cls.properties.push(prop);
          }
        }
      }
    }
    classes.push(cls);
  }
  return { path, text, ast, resolve, classes };
}

function typeName(
  node: unknown,
  resolve: (name: string, resolution?: string) => string,
): string | null {
  if (!isNode(node)) return null;
  if (node.kind === 'typereference') return String(node.name);
  if (node.kind === 'name') return resolve(String(node.name), String(node.resolution ?? 'uqn'));
  if (node.kind === 'uniontype' || node.kind === 'intersectiontype') {
    return ((node.types as PhpNode[]) ?? []).map((t) => typeName(t, resolve)).join('|');
  }
  return null;
}

/** Queued classes whose files are in the project, for the Laravel rules. */
export function queuedClasses(index: PhpIndex): PhpClass[] {
  return [...index.classes.values()].filter((cls) => index.isQueued(cls.fqn));
}
