/// The admin API's OpenAPI 3.1 document, served at `GET /admin/openapi.json`.
///
/// Embedded so the binary serves it without resource files: a byte-for-byte copy of
/// docs/openapi-admin.json (AdminAPITests fails when the two differ; change both together).
enum AdminOpenAPI {
    static let document = #"""
{
  "openapi": "3.1.0",
  "info": {
    "title": "Tollgate admin API",
    "version": "1.0.0",
    "description": "Keys, team budgets and limits, and spend reports of a Tollgate gateway. Every `/admin` route needs `Authorization: Bearer <TOLLGATE_ADMIN_TOKEN>`; `/v1/usage/report` takes a team key and reports on that key's team only. Errors use the OpenAI envelope. See docs/ADMIN_API.md."
  },
  "servers": [
    {
      "url": "http://127.0.0.1:8080"
    }
  ],
  "security": [
    {
      "adminToken": []
    }
  ],
  "paths": {
    "/admin/keys": {
      "post": {
        "operationId": "createKey",
        "summary": "Create a key; the plaintext is returned once.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/CreateKeyRequest"
              }
            }
          }
        },
        "responses": {
          "201": {
            "description": "The new key, with its plaintext in `key` (shown only here).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/CreatedKey"
                }
              }
            }
          },
          "400": {
            "description": "Invalid body.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "get": {
        "operationId": "listKeys",
        "summary": "List keys, newest first (never their hash or plaintext).",
        "parameters": [
          {
            "name": "team",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "Only this team's keys."
          },
          {
            "name": "active",
            "in": "query",
            "schema": {
              "type": "boolean",
              "default": false
            },
            "description": "Leave out revoked keys."
          }
        ],
        "responses": {
          "200": {
            "description": "The keys.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/KeyList"
                }
              }
            }
          },
          "400": {
            "description": "Unknown or malformed parameter.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/admin/keys/{key}": {
      "parameters": [
        {
          "name": "key",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The key's numeric id, or its prefix (`tg-` and 8 characters) as listings show it."
        }
      ],
      "get": {
        "operationId": "getKey",
        "summary": "One key.",
        "responses": {
          "200": {
            "description": "The key.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Key"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "delete": {
        "operationId": "revokeKey",
        "summary": "Revoke a key; every replica refuses it within about 2 seconds.",
        "responses": {
          "200": {
            "description": "The revoked key.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Key"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/admin/keys/{key}/revoke": {
      "parameters": [
        {
          "name": "key",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string"
          },
          "description": "The key's numeric id, or its prefix (`tg-` and 8 characters) as listings show it."
        }
      ],
      "post": {
        "operationId": "revokeKeyPost",
        "summary": "Revoke a key (same as DELETE).",
        "responses": {
          "200": {
            "description": "The revoked key.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Key"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/admin/teams/{team}": {
      "parameters": [
        {
          "name": "team",
          "in": "path",
          "required": true,
          "schema": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200
          },
          "description": "The team's name (percent-encoded)."
        }
      ],
      "get": {
        "operationId": "getTeam",
        "summary": "A team's budget and limits.",
        "responses": {
          "200": {
            "description": "The team.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Team"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      },
      "put": {
        "operationId": "setTeamLimits",
        "summary": "Set a team's budget and rate limits (creates the team). Absent fields keep their value; null removes a limit.",
        "requestBody": {
          "required": true,
          "content": {
            "application/json": {
              "schema": {
                "$ref": "#/components/schemas/TeamLimitsRequest"
              }
            }
          }
        },
        "responses": {
          "200": {
            "description": "The team after the change.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Team"
                }
              }
            }
          },
          "400": {
            "description": "Invalid body.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/admin/reports": {
      "get": {
        "operationId": "report",
        "summary": "Spend and savings per team, model, target and day: the JSON of `tollgate report --format json`.",
        "parameters": [
          {
            "name": "from",
            "in": "query",
            "schema": {
              "type": "string",
              "format": "date"
            },
            "description": "First UTC day, inclusive (default: the first day of `to`'s month)."
          },
          {
            "name": "to",
            "in": "query",
            "schema": {
              "type": "string",
              "format": "date"
            },
            "description": "Last UTC day, inclusive (default: today)."
          },
          {
            "name": "group_by",
            "in": "query",
            "schema": {
              "type": "string",
              "pattern": "^(team|model|target|day)(,(team|model|target|day))*$",
              "default": "team"
            },
            "description": "Comma-separated dimensions: team, model, target, day."
          },
          {
            "name": "team",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "Only this team."
          }
        ],
        "responses": {
          "200": {
            "description": "The report.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Report"
                }
              }
            }
          },
          "400": {
            "description": "Malformed parameter.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "409": {
            "description": "The rows span several currencies.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/admin/openapi.json": {
      "get": {
        "operationId": "openAPI",
        "summary": "This document.",
        "responses": {
          "200": {
            "description": "The OpenAPI 3.1 document.",
            "content": {
              "application/json": {
                "schema": {
                  "type": "object"
                }
              }
            }
          },
          "401": {
            "description": "Missing or wrong admin token (team keys are never accepted).",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The admin API is disabled (no TOLLGATE_ADMIN_TOKEN), runs without a database, or the object does not exist.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    },
    "/v1/usage/report": {
      "get": {
        "operationId": "teamUsageReport",
        "summary": "The calling team key's own team's report. The team always comes from the key; a `team` parameter naming another team is refused with 403.",
        "security": [
          {
            "teamKey": []
          }
        ],
        "parameters": [
          {
            "name": "from",
            "in": "query",
            "schema": {
              "type": "string",
              "format": "date"
            },
            "description": "First UTC day, inclusive (default: the first day of `to`'s month)."
          },
          {
            "name": "to",
            "in": "query",
            "schema": {
              "type": "string",
              "format": "date"
            },
            "description": "Last UTC day, inclusive (default: today)."
          },
          {
            "name": "group_by",
            "in": "query",
            "schema": {
              "type": "string",
              "pattern": "^(team|model|target|day)(,(team|model|target|day))*$",
              "default": "team"
            },
            "description": "Comma-separated dimensions: team, model, target, day."
          },
          {
            "name": "team",
            "in": "query",
            "schema": {
              "type": "string"
            },
            "description": "Optional; must be the key's own team."
          }
        ],
        "responses": {
          "200": {
            "description": "The report, restricted to the key's team.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Report"
                }
              }
            }
          },
          "400": {
            "description": "Malformed parameter.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "401": {
            "description": "Missing, unknown, revoked or expired team key.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "403": {
            "description": "`team` names another team.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "404": {
            "description": "The gateway runs without a database.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "500": {
            "description": "Unexpected failure.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          },
          "503": {
            "description": "The ledger database is unreachable.",
            "content": {
              "application/json": {
                "schema": {
                  "$ref": "#/components/schemas/Error"
                }
              }
            }
          }
        }
      }
    }
  },
  "components": {
    "securitySchemes": {
      "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The value of TOLLGATE_ADMIN_TOKEN."
      },
      "teamKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A team's API key (`tg-...`)."
      }
    },
    "schemas": {
      "Error": {
        "type": "object",
        "required": [
          "error"
        ],
        "properties": {
          "error": {
            "type": "object",
            "required": [
              "message",
              "type",
              "code"
            ],
            "properties": {
              "message": {
                "type": "string"
              },
              "type": {
                "type": "string"
              },
              "param": {
                "type": [
                  "string",
                  "null"
                ]
              },
              "code": {
                "type": [
                  "string",
                  "null"
                ]
              }
            }
          }
        }
      },
      "Money": {
        "type": "string",
        "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
        "description": "A decimal amount (never a float), e.g. \"12.5\"."
      },
      "CreateKeyRequest": {
        "type": "object",
        "required": [
          "team"
        ],
        "additionalProperties": false,
        "properties": {
          "team": {
            "type": "string",
            "minLength": 1,
            "maxLength": 200,
            "description": "Created if new."
          },
          "name": {
            "type": "string",
            "description": "A label."
          },
          "budget": {
            "oneOf": [
              {
                "$ref": "#/components/schemas/Money"
              },
              {
                "type": "integer",
                "minimum": 0
              },
              {
                "type": "null"
              }
            ],
            "description": "In the price book's currency."
          },
          "budget_period": {
            "type": "string",
            "enum": [
              "total",
              "daily",
              "weekly",
              "monthly"
            ],
            "default": "total"
          },
          "currency": {
            "type": "string",
            "description": "Optional; must be the price book's currency."
          },
          "rpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          },
          "tpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          },
          "models": {
            "type": "array",
            "items": {
              "type": "string",
              "minLength": 1
            },
            "description": "Models the key may use; empty or absent means any."
          },
          "expires_at": {
            "type": "string",
            "description": "ISO 8601 time or day (midnight UTC)."
          }
        }
      },
      "TeamLimitsRequest": {
        "type": "object",
        "additionalProperties": false,
        "properties": {
          "budget": {
            "oneOf": [
              {
                "$ref": "#/components/schemas/Money"
              },
              {
                "type": "integer",
                "minimum": 0
              },
              {
                "type": "null"
              }
            ]
          },
          "budget_period": {
            "type": "string",
            "enum": [
              "total",
              "daily",
              "weekly",
              "monthly"
            ]
          },
          "currency": {
            "type": "string"
          },
          "rpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          },
          "tpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          }
        }
      },
      "Key": {
        "type": "object",
        "required": [
          "object",
          "id",
          "prefix",
          "team",
          "budget_period",
          "currency",
          "models",
          "created_at",
          "status"
        ],
        "properties": {
          "object": {
            "const": "key"
          },
          "id": {
            "type": "integer"
          },
          "prefix": {
            "type": "string",
            "description": "`tg-` and 8 characters."
          },
          "team": {
            "type": "string"
          },
          "name": {
            "type": [
              "string",
              "null"
            ]
          },
          "budget": {
            "oneOf": [
              {
                "$ref": "#/components/schemas/Money"
              },
              {
                "type": "null"
              }
            ]
          },
          "budget_period": {
            "type": "string",
            "enum": [
              "total",
              "daily",
              "weekly",
              "monthly"
            ]
          },
          "currency": {
            "type": "string"
          },
          "rpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          },
          "tpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          },
          "models": {
            "type": "array",
            "items": {
              "type": "string"
            }
          },
          "expires_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "revoked_at": {
            "type": [
              "string",
              "null"
            ],
            "format": "date-time"
          },
          "created_at": {
            "type": "string",
            "format": "date-time"
          },
          "status": {
            "type": "string",
            "enum": [
              "active",
              "revoked",
              "expired"
            ]
          }
        }
      },
      "CreatedKey": {
        "allOf": [
          {
            "$ref": "#/components/schemas/Key"
          },
          {
            "type": "object",
            "required": [
              "key"
            ],
            "properties": {
              "key": {
                "type": "string",
                "description": "The plaintext key; store it now, it is not shown again."
              }
            }
          }
        ]
      },
      "KeyList": {
        "type": "object",
        "required": [
          "object",
          "data"
        ],
        "properties": {
          "object": {
            "const": "list"
          },
          "data": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/Key"
            }
          }
        }
      },
      "Team": {
        "type": "object",
        "required": [
          "object",
          "id",
          "name",
          "budget_period",
          "currency"
        ],
        "properties": {
          "object": {
            "const": "team"
          },
          "id": {
            "type": "integer"
          },
          "name": {
            "type": "string"
          },
          "budget": {
            "oneOf": [
              {
                "$ref": "#/components/schemas/Money"
              },
              {
                "type": "null"
              }
            ]
          },
          "budget_period": {
            "type": "string",
            "enum": [
              "total",
              "daily",
              "weekly",
              "monthly"
            ]
          },
          "currency": {
            "type": "string"
          },
          "rpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          },
          "tpm": {
            "type": [
              "integer",
              "null"
            ],
            "minimum": 1
          }
        }
      },
      "Totals": {
        "type": "object",
        "required": [
          "requests",
          "errors",
          "prompt_tokens",
          "cache_hit_tokens",
          "completion_tokens",
          "reasoning_tokens",
          "cost",
          "list_cost",
          "savings",
          "savings_percent",
          "currency"
        ],
        "properties": {
          "requests": {
            "type": "integer"
          },
          "errors": {
            "type": "integer"
          },
          "prompt_tokens": {
            "type": "integer"
          },
          "cache_hit_tokens": {
            "type": "integer"
          },
          "completion_tokens": {
            "type": "integer"
          },
          "reasoning_tokens": {
            "type": "integer"
          },
          "cost": {
            "$ref": "#/components/schemas/Money"
          },
          "list_cost": {
            "$ref": "#/components/schemas/Money"
          },
          "savings": {
            "allOf": [
              {
                "$ref": "#/components/schemas/Money"
              }
            ],
            "description": "list_cost - cost: what the same requests would have cost at the API's list price, minus what they cost."
          },
          "savings_percent": {
            "type": [
              "string",
              "null"
            ],
            "description": "Two decimals; null when the list cost is zero."
          },
          "currency": {
            "type": "string"
          }
        }
      },
      "ReportRow": {
        "allOf": [
          {
            "$ref": "#/components/schemas/Totals"
          },
          {
            "type": "object",
            "properties": {
              "team": {
                "type": "string"
              },
              "model": {
                "type": "string"
              },
              "target": {
                "type": "string"
              },
              "day": {
                "type": "string",
                "format": "date"
              }
            },
            "description": "The group's values for the requested dimensions, and its sums."
          }
        ]
      },
      "Report": {
        "type": "object",
        "required": [
          "from",
          "to",
          "team",
          "group_by",
          "rows",
          "total"
        ],
        "properties": {
          "from": {
            "type": "string",
            "format": "date"
          },
          "to": {
            "type": "string",
            "format": "date"
          },
          "team": {
            "type": [
              "string",
              "null"
            ]
          },
          "group_by": {
            "type": "array",
            "items": {
              "type": "string",
              "enum": [
                "team",
                "model",
                "target",
                "day"
              ]
            }
          },
          "rows": {
            "type": "array",
            "items": {
              "$ref": "#/components/schemas/ReportRow"
            }
          },
          "total": {
            "$ref": "#/components/schemas/Totals"
          }
        }
      }
    }
  }
}

"""#
}
