# standalone.al — one anynode node on this machine, on the embedded defaults
# (SQLite databases under the node home).
#
# Run:   anynode process commands/standalone.al        (headless, until SIGTERM)
#   or:  anynode -i -e "process commands/standalone.al" (and keep the prompt)
#
# Environment (all optional):
#   NODE_NAME            the node name                      (default: standalone)
#   NODE_IP              the address to serve on            (default: 127.0.0.1, this machine only)
#   ANYLOG_SERVER_PORT   TCP port for other nodes           (default: 32548)
#   ANYLOG_REST_PORT     REST port for applications         (default: 32549)
#   DEFAULT_DBMS         the database data files go to      (default: demo; SQLite under !dbms_dir)

node_name = standalone
if $NODE_NAME then node_name = $NODE_NAME
set node name !node_name

node_ip = 127.0.0.1
if $NODE_IP then node_ip = $NODE_IP
anylog_server_port = 32548
if $ANYLOG_SERVER_PORT then anylog_server_port = $ANYLOG_SERVER_PORT
anylog_rest_port = 32549
if $ANYLOG_REST_PORT then anylog_rest_port = $ANYLOG_REST_PORT

default_dbms = demo
if $DEFAULT_DBMS then default_dbms = $DEFAULT_DBMS

create work directories
connect dbms !default_dbms where type = sqlite
run tcp server where internal_ip = !node_ip and internal_port = !anylog_server_port and bind = true
run rest server where internal_ip = !node_ip and internal_port = !anylog_rest_port and bind = true
run operator

echo node !node_name is up: home !anynode_home, TCP !node_ip:!anylog_server_port, REST http://!node_ip:!anylog_rest_port, data files into !watch_dir
