SELECT holder FROM {schema}.conveyor_leases WHERE name = %(name)s AND expires_at > now()
