#!/bin/sh
# The test MariaDB image's entrypoint: the official image's env contract on Debian's
# mariadb-server — on an empty data directory, MARIADB_ROOT_PASSWORD (or MYSQL_ROOT_PASSWORD)
# for root from anywhere, MARIADB_DATABASE, MARIADB_USER and MARIADB_PASSWORD (or their MYSQL_
# names) created; then mariadbd as `mysql` on every address. Flags alone mean `mariadbd FLAGS`.
set -eu
case "${1:-}" in
  -*) set -- mariadbd "$@" ;;
esac
if [ "${1:-}" != mariadbd ]; then
  exec "$@"
fi
root=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
db=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
user=${MARIADB_USER:-${MYSQL_USER:-}}
password=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
mkdir -p /var/lib/mysql /run/mysqld
chown -R mysql:mysql /var/lib/mysql /run/mysqld
if [ ! -d /var/lib/mysql/mysql ]; then
  [ -n "$root" ] || { echo "MARIADB_ROOT_PASSWORD is not set" >&2; exit 1; }
  mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db \
    --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --skip-networking --socket=/run/mysqld/init.sock &
  pid=$!
  i=0
  until mariadb-admin --socket=/run/mysqld/init.sock ping --silent 2>/dev/null; do
    i=$((i + 1))
    [ "$i" -lt 300 ] || { echo "the first start of mariadbd did not answer" >&2; exit 1; }
    sleep 0.1
  done
  {
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "$db" ]; then echo "CREATE DATABASE IF NOT EXISTS \`$db\`;"; fi
    if [ -n "$user" ]; then
      echo "CREATE USER '$user'@'%' IDENTIFIED BY '$password';"
      if [ -n "$db" ]; then echo "GRANT ALL ON \`$db\`.* TO '$user'@'%';"; fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | mariadb --socket=/run/mysqld/init.sock -uroot
  mariadb-admin --socket=/run/mysqld/init.sock -uroot -p"$root" shutdown
  wait "$pid" || true
fi
exec "$@" --user=mysql --bind-address=0.0.0.0 --socket=/run/mysqld/mysqld.sock
