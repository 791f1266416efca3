# master.al — the master of a network on this machine: it keeps the network's policies (the ledger)
# in the table blockchain.ledger and serves them to the other nodes' `run blockchain sync`.
#
# Run:   anynode --home /tmp/master process commands/master.al
# Then:  commands/operator.al and commands/query.al on the same machine (each with its own --home).
#
# Environment (all optional):
#   NODE_NAME            the node name                      (default: master)
#   COMPANY_NAME         the company of the network          (default: acme)
#   NODE_IP              the address to serve on            (default: 127.0.0.1, this machine only)
#   ANYLOG_SERVER_PORT   TCP port for other nodes           (default: 32048)
#   ANYLOG_REST_PORT     REST port for applications         (default: 32049)
#   SYNC_TIME            seconds between ledger syncs       (default: 5)

node_name = master
if $NODE_NAME then node_name = $NODE_NAME
set node name !node_name
company_name = acme
if $COMPANY_NAME then company_name = $COMPANY_NAME
node_ip = 127.0.0.1
if $NODE_IP then node_ip = $NODE_IP
anylog_server_port = 32048
if $ANYLOG_SERVER_PORT then anylog_server_port = $ANYLOG_SERVER_PORT
anylog_rest_port = 32049
if $ANYLOG_REST_PORT then anylog_rest_port = $ANYLOG_REST_PORT
sync_time = 5
if $SYNC_TIME then sync_time = $SYNC_TIME
ledger_conn = !node_ip + : + !anylog_server_port

create work directories
connect dbms blockchain where type = sqlite
blockchain create table
run tcp server where internal_ip = !node_ip and internal_port = !anylog_server_port and bind = true
run rest server where internal_ip = !node_ip and internal_port = !anylog_rest_port and bind = true

# the master syncs from itself, so its own ledger file is the network's copy
run blockchain sync where source = master and time = !sync_time seconds and dest = file and connection = !ledger_conn

# its own policy, once (a restart finds it in the ledger)
new_policy = {"master": {"company": !company_name, "name": !node_name, "ip": !node_ip, "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int}}
known = blockchain get master where name = !node_name
if not !known then blockchain insert where policy = !new_policy and local = true and master = !ledger_conn

echo master !node_name is up: TCP !ledger_conn, REST http://!node_ip:!anylog_rest_port, ledger in blockchain.ledger
