# query.al — a query node of the network that commands/master.al keeps: it publishes its policy to the
# master and keeps a copy of the ledger, to find the operators that hold the data.
#
# Run:   anynode --home /tmp/query process commands/query.al   (after master.al)
#
# Environment (all optional):
#   NODE_NAME            the node name                      (default: query1)
#   COMPANY_NAME         the company of the network          (default: acme)
#   NODE_IP              the address to serve on            (default: 127.0.0.1, this machine only)
#   ANYLOG_SERVER_PORT   TCP port for other nodes           (default: 32348)
#   ANYLOG_REST_PORT     REST port for applications         (default: 32349)
#   LEDGER_CONN          the master's ip:port               (default: 127.0.0.1:32048)
#   SYNC_TIME            seconds between ledger syncs       (default: 5)

node_name = query1
if $NODE_NAME then node_name = $NODE_NAME
set node name !node_name
company_name = acme
if $COMPANY_NAME then company_name = $COMPANY_NAME
node_ip = 127.0.0.1
if $NODE_IP then node_ip = $NODE_IP
anylog_server_port = 32348
if $ANYLOG_SERVER_PORT then anylog_server_port = $ANYLOG_SERVER_PORT
anylog_rest_port = 32349
if $ANYLOG_REST_PORT then anylog_rest_port = $ANYLOG_REST_PORT
ledger_conn = 127.0.0.1:32048
if $LEDGER_CONN then ledger_conn = $LEDGER_CONN
sync_time = 5
if $SYNC_TIME then sync_time = $SYNC_TIME

create work directories
connect dbms system_query where type = sqlite and memory = true
run tcp server where internal_ip = !node_ip and internal_port = !anylog_server_port and bind = true
run rest server where internal_ip = !node_ip and internal_port = !anylog_rest_port and bind = true

run blockchain sync where source = master and time = !sync_time seconds and dest = file and connection = !ledger_conn
synced = wait 10 for sync

new_policy = {"query": {"company": !company_name, "name": !node_name, "ip": !node_ip, "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int}}
known = blockchain get query where name = !node_name
if not !known then blockchain insert where policy = !new_policy and local = true and master = !ledger_conn

echo query node !node_name is up: TCP !node_ip:!anylog_server_port, REST http://!node_ip:!anylog_rest_port, master !ledger_conn
