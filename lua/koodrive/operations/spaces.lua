--- KooDrive spaces operations (issue 12: being written).
return {}
