/*
 * status.c - the names and texts of the public enums (status codes, task
 * states, JSON types), kept in one place so messages stay consistent.
 * Depends on the public header only.
 */
#include "floret/floret.h"

const char *fl_strerror(fl_status status)
{
    switch (status) {
    case FL_OK: return "success";
    case FL_ENOMEM: return "out of memory";
    case FL_EINVAL: return "invalid argument";
    case FL_ETOOBIG: return "too big";
    case FL_EPROTO: return "protocol error";
    case FL_ENOTFOUND: return "not found";
    case FL_ETIMEDOUT: return "timed out";
    case FL_ECONN: return "broker connection failed";
    case FL_ESTATE: return "invalid in the current state";
    case FL_EIO: return "operating-system call failed";
    case FL_EEXIST: return "already exists";
    case FL_ETASK: return "task failed";
    }
    return "unknown status";
}

const char *fl_state_name(fl_state state)
{
    switch (state) {
    case FL_PENDING: return "PENDING";
    case FL_STARTED: return "STARTED";
    case FL_RETRY: return "RETRY";
    case FL_SUCCESS: return "SUCCESS";
    case FL_FAILURE: return "FAILURE";
    case FL_REVOKED: return "REVOKED";
    }
    return "UNKNOWN";
}

const char *fl_type_name(fl_type type)
{
    switch (type) {
    case FL_TYPE_NULL: return "null";
    case FL_TYPE_BOOL: return "boolean";
    case FL_TYPE_NUMBER: return "number";
    case FL_TYPE_STRING: return "string";
    case FL_TYPE_ARRAY: return "array";
    case FL_TYPE_OBJECT: return "object";
    }
    return "unknown";
}
