# standalone.al — one anynode node on this machine, on the embedded defaults
# (SQLite databases and a local ledger under the node home).
#
# Run:   anynode process commands/standalone.al        (headless, until SIGTERM)
#   or:  anynode -i -e "process commands/standalone.al" (and keep the prompt)
# Variables you may set before it runs: node_name (default "standalone").

if !node_name == anynode then node_name = standalone
set node name !node_name
create work directories
echo node !node_name is up: home !anynode_home
