"""The stack's services, one module per server, each a subclass of ``service.Service``.

``memcached`` (Swift's token cache), ``swift`` (object, container, account and TempAuth proxy servers),
``keystone`` (Keystone and a second Swift proxy that takes its tokens), ``postgres``, ``ferretdb`` (the
MongoDB-wire catalog), ``influxdb``, ``neo4j``, ``redis`` (the Celery broker) and ``airflow`` (its processes,
Celery workers included, and the environment they run with: the stack's env file). ``devstack/stack.py``
lists them in start order and groups them.
"""
