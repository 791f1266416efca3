# operator.al — an operator of the network that commands/master.al keeps: it publishes its cluster and
# operator policies to the master, keeps a copy of the ledger, and stores the data files it receives.
#
# Run:   anynode --home /tmp/operator process commands/operator.al   (after master.al)
#
# Environment (all optional):
#   NODE_NAME            the node name                      (default: operator1)
#   COMPANY_NAME         the company of the network          (default: acme)
#   NODE_IP              the address to serve on            (default: 127.0.0.1, this machine only)
#   ANYLOG_SERVER_PORT   TCP port for other nodes           (default: 32148)
#   ANYLOG_REST_PORT     REST port for applications         (default: 32149)
#   LEDGER_CONN          the master's ip:port               (default: 127.0.0.1:32048)
#   DEFAULT_DBMS         the database data files go to      (default: demo; SQLite under !dbms_dir)
#   SYNC_TIME            seconds between ledger syncs       (default: 5)

node_name = operator1
if $NODE_NAME then node_name = $NODE_NAME
set node name !node_name
company_name = acme
if $COMPANY_NAME then company_name = $COMPANY_NAME
node_ip = 127.0.0.1
if $NODE_IP then node_ip = $NODE_IP
anylog_server_port = 32148
if $ANYLOG_SERVER_PORT then anylog_server_port = $ANYLOG_SERVER_PORT
anylog_rest_port = 32149
if $ANYLOG_REST_PORT then anylog_rest_port = $ANYLOG_REST_PORT
ledger_conn = 127.0.0.1:32048
if $LEDGER_CONN then ledger_conn = $LEDGER_CONN
default_dbms = demo
if $DEFAULT_DBMS then default_dbms = $DEFAULT_DBMS
sync_time = 5
if $SYNC_TIME then sync_time = $SYNC_TIME
cluster_name = !node_name + -cluster

create work directories
connect dbms !default_dbms where type = sqlite
run tcp server where internal_ip = !node_ip and internal_port = !anylog_server_port and bind = true
run rest server where internal_ip = !node_ip and internal_port = !anylog_rest_port and bind = true

# a first copy of the ledger, then one every sync_time seconds
run blockchain sync where source = master and time = !sync_time seconds and dest = file and connection = !ledger_conn
synced = wait 10 for sync

# its cluster and its own policy, once (a restart finds them in the ledger)
cluster_policy = {"cluster": {"company": !company_name, "name": !cluster_name}}
known = blockchain get cluster where name = !cluster_name
if not !known then blockchain insert where policy = !cluster_policy and local = true and master = !ledger_conn
cluster_id = blockchain get cluster where name = !cluster_name bring [*][id]
operator_policy = {"operator": {"company": !company_name, "name": !node_name, "cluster": !cluster_id, "ip": !node_ip, "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int}}
known = blockchain get operator where name = !node_name
if not !known then blockchain insert where policy = !operator_policy and local = true and master = !ledger_conn

# the operator runs as that policy: the tables it creates are added to its cluster (published to the master),
# which is how a query node finds them (run client () sql ...)
operator_id = blockchain get operator where name = !node_name bring [*][id]
run operator where policy = !operator_id and master_node = !ledger_conn

echo operator !node_name is up: TCP !node_ip:!anylog_server_port, REST http://!node_ip:!anylog_rest_port, master !ledger_conn
