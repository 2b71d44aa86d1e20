#!/usr/bin/env python3
"""Generates Sources/KubeEmulator/Protobuf/KubeProtobufSchema.swift, the message table KubeProtobuf decodes
Kubernetes protobuf request bodies with, from a kubectl binary (non-PIE linux/amd64, k8s <= 1.33):
- field numbers and types come from the gzipped FileDescriptorProtos that k8s.io/api and k8s.io/apimachinery
  generated.pb.go register, i.e. the real generated.proto files;
- JSON names, omitempty and `json:",inline"` come from the Go struct tags in the binary's reflection data
  (so e.g. BoundObjectReference's proto field `uID` decodes to JSON `uid`, Volume's `volumeSource` is inlined).

usage: hack/gen-protobuf-schema.py [path/to/kubectl]   (default: $FLOTILLA_KUBECTL or gcloud's kubectl.1.33)"""
import os, re, struct, sys, zlib

# ---------------- protobuf descriptors ----------------

def varint(b, i):
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80: return r, i
        if s > 63: raise ValueError('varint')

def fields(b):
    i, out = 0, []
    while i < len(b):
        k, i = varint(b, i); fn, wt = k >> 3, k & 7
        if wt == 0: v, i = varint(b, i)
        elif wt == 2: n, i = varint(b, i); v = b[i:i + n]; i += n
        elif wt == 1: v = b[i:i + 8]; i += 8
        elif wt == 5: v = b[i:i + 4]; i += 4
        else: raise ValueError(wt)
        out.append((fn, wt, v))
    return out

def descriptors(data):
    found = {}
    for m in re.finditer(b'\x1f\x8b\x08\x00\x00\x00\x00\x00', data):
        try:
            d = zlib.decompressobj(16 + 15).decompress(data[m.start():m.start() + 4000000])
            name = [v for f, w, v in fields(d) if f == 1][0].decode()
        except Exception:
            continue
        if name.startswith('k8s.io/') and name.endswith('generated.proto'):
            found[name] = d
    return found

def messages(found):
    res = {}
    def walk(b, prefix):
        fs = fields(b)
        name = [v for f, w, v in fs if f == 1][0].decode()
        full = prefix + "." + name
        flds, nested, mapentry = [], [], False
        for f, w, v in fs:
            if f == 2:
                d = {'options': []}
                for g, w2, x in fields(v):
                    if g == 1: d['name'] = x.decode()
                    elif g == 6: d['type_name'] = x.decode()
                    elif g == 3: d['number'] = x
                    elif g == 4: d['label'] = x
                    elif g == 5: d['type'] = x
                    elif g == 8: d['options'] = fields(x)
                flds.append(d)
            elif f == 3: nested.append(v)
            elif f == 7: mapentry = any(o[0] == 7 and o[2] == 1 for o in fields(v))
        res[full] = dict(fields=flds, mapentry=mapentry)
        for n in nested: walk(n, full)
    for fd in found.values():
        pkg = [v for f, w, v in fields(fd) if f == 2][0].decode()
        for f, w, v in fields(fd):
            if f == 4: walk(v, "." + pkg)
    return res

# ---------------- Go reflection data ----------------

class GoBin:
    """Runtime type metadata of a stripped non-PIE linux/amd64 Go 1.2x binary."""
    def __init__(self, data):
        self.f = f = data
        assert struct.unpack_from('<H', f, 16)[0] == 2, 'expected a non-PIE (ET_EXEC) binary'
        phoff = struct.unpack_from('<Q', f, 32)[0]; phentsize, phnum = struct.unpack_from('<HH', f, 54)
        self.segs = []
        for i in range(phnum):
            p_type, _, p_offset, p_vaddr, _, p_filesz, _, _ = struct.unpack_from('<IIQQQQQQ', f, phoff + i * phentsize)
            if p_type == 1: self.segs.append((p_vaddr, p_vaddr + p_filesz, p_offset))
        shoff = struct.unpack_from('<Q', f, 40)[0]; shentsize, shnum, shstrndx = struct.unpack_from('<HHH', f, 58)
        secs = [struct.unpack_from('<IIQQQQIIQQ', f, shoff + i * shentsize) for i in range(shnum)]
        strtab = secs[shstrndx][4]
        self.sections = {f[strtab + s[0]:f.index(b'\0', strtab + s[0])].decode(): (s[3], s[4], s[5]) for s in secs}
        self.types_base = self.sections['.rodata'][0]  # moduledata.types
    def off(self, va):
        for lo, hi, o in self.segs:
            if lo <= va < hi: return va - lo + o
        raise ValueError(hex(va))
    def u64(self, va): return struct.unpack_from('<Q', self.f, self.off(va))[0]
    def i32(self, va): return struct.unpack_from('<i', self.f, self.off(va))[0]
    def u8(self, va): return self.f[self.off(va)]
    def name(self, va):  # abi.Name: flags, uvarint len, bytes, [uvarint len, tag]
        o = self.off(va); flags = self.f[o]
        n, i = varint(self.f, o + 1); nm = self.f[i:i + n].decode('latin1'); tag = ''
        if flags & 2:
            tn, j = varint(self.f, i + n); tag = self.f[j:j + tn].decode('latin1')
        return nm, tag, flags
    def kind(self, t): return self.u8(t + 23) & 0x1f
    def type_name(self, t):
        nm = self.name(self.types_base + self.i32(t + 40))[0]
        return nm[1:] if self.u8(t + 20) & 2 else nm  # tflagExtraStar
    def pkg_path(self, t):  # uncommonType follows the 80-byte structType
        return self.name(self.types_base + self.i32(t + 80))[0] if self.u8(t + 20) & 1 else None
    def struct_fields(self, t):
        ptr, ln = self.u64(t + 56), self.u64(t + 64)
        out = []
        for k in range(ln):
            npt, typ, _ = struct.unpack_from('<QQQ', self.f, self.off(ptr + 24 * k))
            nm, tag, flags = self.name(npt)
            out.append((nm, tag, typ))
        return out
    def typelinks(self):
        _, o, size = self.sections['.typelink']
        for k in range(0, size, 4):
            yield self.types_base + struct.unpack_from('<i', self.f, o + k)[0]

def go_structs(data):
    """{(pkgpath, TypeName): [(GoFieldName, tag)]} for the struct types reachable from the typelinks."""
    g = GoBin(data)
    seen, out, stack = set(), {}, list(g.typelinks())
    while stack:
        t = stack.pop()
        if t in seen: continue
        seen.add(t)
        try:
            k = g.kind(t)
            if k in (17, 22, 23): stack.append(g.u64(t + 48))  # array, ptr, slice: Elem
            elif k == 21: stack += [g.u64(t + 48), g.u64(t + 56)]  # map: Key, Elem
            elif k == 25:
                fs = g.struct_fields(t)
                stack += [x[2] for x in fs]
                nm, pp = g.type_name(t), g.pkg_path(t)
                if pp and '.' in nm: out[(pp, nm.split('.', 1)[1])] = [(a, b) for a, b, _ in fs]
        except (ValueError, IndexError, struct.error):
            continue
    return out

def json_infos(gofields):
    """{protobuf number: (jsonName, omitempty, inline)} from a struct's tags."""
    info = {}
    for goname, tag in gofields:
        m = re.search(r'protobuf:"([^"]*)"', tag)
        if not m: continue
        pb = m.group(1).split(',')
        if len(pb) < 2 or not pb[1].isdigit(): continue
        js = re.search(r'json:"([^"]*)"', tag)
        parts = js.group(1).split(',') if js else [goname]
        info[int(pb[1])] = (parts[0], 'omitempty' in parts[1:], parts[0] == '' and 'inline' in parts[1:])
    return info

# ---------------- schema ----------------

PREFIXES = [('.k8s.io.api.', ''), ('.k8s.io.apimachinery.pkg.apis.', ''), ('.k8s.io.apimachinery.pkg.api.', ''),
            ('.k8s.io.apimachinery.pkg.util.', ''), ('.k8s.io.apimachinery.pkg.', ''), ('.k8s.io.', 'x.')]
def short(n):
    for p, r in PREFIXES:
        if n.startswith(p): return r + n[len(p):]
    raise ValueError(n)

def rel(m, ref):
    """`.Name` for a message in the same package as `m`."""
    pkg = m.rsplit('.', 1)[0]
    return ref[len(pkg):] if ref.rsplit('.', 1)[0] == pkg else ref

SPECIAL = {'meta.v1.Time': 'T', 'meta.v1.MicroTime': 'U', 'meta.v1.Duration': 'D', 'resource.Quantity': 'Q',
           'resource.QuantityValue': 'Q', 'intstr.IntOrString': 'I', 'runtime.RawExtension': 'R', 'meta.v1.FieldsV1': 'F',
           'meta.v1.Verbs': 'L', 'authentication.v1.ExtraValue': 'L', 'authorization.v1.ExtraValue': 'L',
           'certificates.v1.ExtraValue': 'L'}
SCALAR = {9: 's', 12: 'b', 5: 'i', 3: 'l', 13: 'u', 4: 'u', 8: 't', 1: 'd', 2: 'd', 17: 'i', 18: 'l'}
PACKAGES = ['core.v1', 'apps.v1', 'batch.v1', 'rbac.v1', 'authorization.v1', 'authentication.v1', 'scheduling.v1',
            'policy.v1', 'networking.v1', 'autoscaling.v1', 'autoscaling.v2', 'certificates.v1', 'coordination.v1',
            'discovery.v1', 'events.v1', 'storage.v1', 'node.v1']
EXTRA_ROOTS = ['meta.v1.DeleteOptions']

def main():
    here = os.path.dirname(os.path.abspath(__file__))
    kubectl = sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        'FLOTILLA_KUBECTL', '/usr/lib/google-cloud-sdk/bin/kubectl.1.33')
    target = os.path.join(here, '..', 'Sources', 'KubeEmulator', 'Protobuf', 'KubeProtobufSchema.swift')
    data = open(kubectl, 'rb').read()
    full = messages(descriptors(data))
    ALL = {short(k): v for k, v in full.items()}
    FULL = {short(k): k for k in full}
    gostructs = go_structs(data)
    roots = [m for m, d in ALL.items() if m.rsplit('.', 1)[0] in PACKAGES and m.count('.') == 2
             and not m.endswith('List')
             and any(f['name'] == 'metadata' and f.get('type_name', '').endswith('meta.v1.ObjectMeta') for f in d['fields'])]
    seen, stack = set(), roots + EXTRA_ROOTS
    while stack:
        m = stack.pop()
        if m in seen or m in SPECIAL: continue
        seen.add(m)
        for f in ALL[m]['fields']:
            if f.get('type_name'): stack.append(short(f['type_name']))
    problems, lines = [], []
    for m in sorted(seen):
        d = ALL[m]
        if d['mapentry']: continue
        pkg, name = FULL[m].lstrip('.').rsplit('.', 1)
        gofields = gostructs.get(('k8s.io/' + pkg[len('k8s.io.'):].replace('.', '/'), name))
        if gofields is None: problems.append('%s: Go struct not found' % m)
        infos = json_infos(gofields or [])
        parts = [m]
        for f in sorted(d['fields'], key=lambda f: f['number']):
            key = m + '.' + f['name']
            if f['number'] not in infos: problems.append('%s: no Go struct tag' % key)
            jname, omitempty, inline = infos.get(f['number'], (f['name'], True, False))
            nullable = not any(o[0] == 65001 and o[2] == 0 for o in f['options'])  # gogoproto.nullable
            rep = f['label'] == 3
            if f['type'] == 11:
                tn = short(f['type_name'])
                if ALL.get(tn, {}).get('mapentry'):
                    kf, vf = sorted(ALL[tn]['fields'], key=lambda f: f['number'])
                    assert kf['type'] == 9, tn
                    if vf['type'] == 11:
                        vt = short(vf['type_name']); t = '{' + (SPECIAL.get(vt) or '@' + rel(m, vt))
                    else:
                        t = '{' + SCALAR[vf['type']]
                else:
                    t = SPECIAL.get(tn) or '@' + rel(m, tn)
                    if rep: t = '*' + t
                    elif inline: t = '^' + t; jname = f['name']
            else:
                t = SCALAR[f['type']]
                if rep: t = '*' + t
                elif nullable: t += '?'
                elif not omitempty: t += '!'
            parts.append('%d:%s:%s' % (f['number'], jname, t))
        lines.append(' '.join(parts))
    for p in problems: print('warning:', p, file=sys.stderr)
    out = [
        '// Generated by hack/gen-protobuf-schema.py from %s. Do not edit by hand.' % os.path.basename(kubectl),
        '// Field numbers and types: the protobuf descriptors of k8s.io/api and k8s.io/apimachinery generated.proto',
        '// that the binary embeds. JSON names, omitempty and inlining: the Go struct tags in its reflection data.',
        '//',
        '// One message per line: `<message> <field>...`, field = `<number>:<jsonName>:<type>`. Scalar types: s string,',
        '// b bytes (base64 in JSON), i int32, l int64, u uint, t bool, d double. Suffix `?`: pointer in Go, `!`: value',
        '// without omitempty (both emitted even when zero); no suffix: omitted when zero. `@msg`: message (`@.Name` in',
        '// the same package), `^@msg`: message inlined into its parent, `*`: repeated, `{`: map<string, V>. Special:',
        '// T Time, U MicroTime, D Duration, Q Quantity, I IntOrString, R RawExtension, F FieldsV1, L string list.',
        'extension KubeProtobuf {',
        '    static let schemaText = """',
    ] + lines + ['"""', '}']
    with open(target, 'w') as f:
        f.write('\n'.join(out) + '\n')
    print('wrote', os.path.normpath(target), len(lines), 'messages')

if __name__ == '__main__':
    main()
