# Rewrites citations of the kit's spec (../shared/spec/*.md, or bare
# hkp.md / recon.md / build.md) to the repo's doc/. Idempotent: a citation
# already reading doc/x.md is left alone. Section numbers are kept: doc/
# uses the same numbering.
#   git ls-files shared ngx_hkp_module reconsvc t bench README.md \
#     | grep -v '^t/data/.*\.\(asc\|gpg\|bin\)$' | xargs sed -i -f doc/.cite-map.sed
s#\(\.\./\)*shared/spec/vectors/#t/data/#g
s#\(\.\./\)*shared/spec/\(hkp\|recon\|build\)\.md#\2.md#g
s#\(\.\./\)*shared/spec/\?#doc/#g
s#\(^\|[^/A-Za-z0-9_.-]\)\(hkp\|recon\|build\)\.md#\1doc/\2.md#g
