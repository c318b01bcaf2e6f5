DELETE FROM {schema}.conveyor_leases WHERE name = %(name)s AND holder = %(holder)s
