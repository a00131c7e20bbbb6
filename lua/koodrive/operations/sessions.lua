--- KooDrive sessions operations (issue 12: being written).
return {}
