// The resources a mocked Pulumi run registered, as a graph to query by name: what exists, what
// waits for what (the engine's dependencies), and which component holds what.

export interface GraphResource {
  type: string;
  name: string;
  urn: string;
  /** Parent URN ("" for none). */
  parent: string;
  /** URNs this resource depends on. */
  dependencies: string[];
}

export class ResourceGraph<R extends GraphResource> {
  readonly byUrn = new Map<string, R>();
  constructor(readonly list: R[]) {
    for (const r of list) this.byUrn.set(r.urn, r);
  }
  /** The resource of that name (and type, if given); throws when there is none or several. */
  get(name: string, type?: string): R {
    const found = this.list.filter((r) => r.name === name && (!type || r.type === type));
    if (found.length !== 1) throw new Error(`${found.length} resources named ${name}; names: ${this.names().slice(0, 20).join(", ")}...`);
    return found[0];
  }
  has(name: string): boolean {
    return this.list.some((r) => r.name === name);
  }
  names(type?: string): string[] {
    return this.list.filter((r) => !type || r.type === type).map((r) => r.name).sort();
  }
  ofType(type: string): R[] {
    return this.list.filter((r) => r.type === type).sort((a, b) => a.name.localeCompare(b.name));
  }
  commands(): R[] {
    return this.list.filter((r) => r.type.startsWith("command:remote:"));
  }
  parentOf(name: string): R | undefined {
    return this.byUrn.get(this.get(name).parent);
  }
  /** Names of everything `name` waits for, directly or not. */
  before(name: string, type?: string): Set<string> {
    const seen = new Set<string>();
    const walk = (urn: string) => {
      for (const d of this.byUrn.get(urn)?.dependencies ?? []) {
        const label = this.byUrn.get(d)?.name ?? d;
        if (!seen.has(label)) {
          seen.add(label);
          walk(d);
        }
      }
    };
    walk(this.get(name, type).urn);
    return seen;
  }
  /** Whether `later` waits (transitively) for `earlier`. */
  waitsFor(later: string, earlier: string): boolean {
    return this.before(later).has(earlier);
  }
  directDeps(name: string, type?: string): string[] {
    return this.get(name, type).dependencies.map((d) => this.byUrn.get(d)?.name ?? d).sort();
  }
}
