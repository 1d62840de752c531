class DataError(ValueError): pass
